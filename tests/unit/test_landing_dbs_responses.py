"""DBS responses in landing/dbs/: inventoried as trace responses, listed for tracing in batch order."""

from __future__ import annotations

import os
from pathlib import Path

from connectors.landing import NOT_LOADED, TRACE_RESPONSE, UNEXPECTED_NAME, dbs_responses, inventory


def test_responses_named_by_the_rule_are_accounted_for_and_others_are_not_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "dbs"
    folder.mkdir(parents=True)
    for name in (
        "dbs_response_2026-10.csv",
        "dbs_response_2026-10_10.csv",
        "dbs_response_2026-10_2.csv",
        "dbs_response_2026-09.csv",
        "dbs_response_2026-13.csv",  # no such month
        "dbs_response_2026-10_1.csv",  # the first batch has no number
        "dbs_request_2026-10.csv",  # a request belongs in the outbox, not in landing
    ):
        (folder / name).write_text("UNIQUE_REFERENCE\r\n")
    os.symlink(folder / "dbs_response_2026-10.csv", folder / "dbs_response_2026-11.csv")
    entries = {e.path: (e.status, e.reason) for e in inventory(tmp_path / "landing")}
    assert entries == {
        "dbs/dbs_request_2026-10.csv": (NOT_LOADED, UNEXPECTED_NAME),
        "dbs/dbs_response_2026-09.csv": (TRACE_RESPONSE, "DBS trace response, applied by tracing"),
        "dbs/dbs_response_2026-10.csv": (TRACE_RESPONSE, "DBS trace response, applied by tracing"),
        "dbs/dbs_response_2026-10_1.csv": (NOT_LOADED, UNEXPECTED_NAME),
        "dbs/dbs_response_2026-10_10.csv": (TRACE_RESPONSE, "DBS trace response, applied by tracing"),
        "dbs/dbs_response_2026-10_2.csv": (TRACE_RESPONSE, "DBS trace response, applied by tracing"),
        "dbs/dbs_response_2026-11.csv": (NOT_LOADED, "not a regular file (symbolic link)"),
        "dbs/dbs_response_2026-13.csv": (NOT_LOADED, UNEXPECTED_NAME),
    }
    # Tracing reads the regular files only, oldest batch first (batch 10 after batch 2).
    assert [p.name for p in dbs_responses(tmp_path / "landing")] == [
        "dbs_response_2026-09.csv",
        "dbs_response_2026-10.csv",
        "dbs_response_2026-10_2.csv",
        "dbs_response_2026-10_10.csv",
    ]
