"""The two timers behind `phm bench pipeline`'s typing_seconds and value_scan_seconds (issue #14's
15 % figure): each is measured around its call, so it is positive and never more than the whole call."""

from __future__ import annotations

import time
from pathlib import Path

from connectors import OptOuts, ingest_file
from connectors.spec import GP_EVENTS
from tests.fixtures.staged_home import build, write_home

A = "9990000018"


def test_the_typed_checks_are_timed_inside_the_connector(tmp_path: Path) -> None:
    path = tmp_path / "gp_events" / "gp_events_2025-04.csv"
    path.parent.mkdir(parents=True)
    lines = [f"{A},A12345,E{i},2025-04-01,22298006,," for i in range(1, 201)]
    path.write_text("\n".join([",".join(GP_EVENTS.names), *lines]) + "\n", encoding="utf-8")
    started = time.perf_counter()
    result = ingest_file(
        "gp_events", path, landing=tmp_path, opt_outs=OptOuts(), non_sharing=frozenset(), load_id="L1"
    )
    elapsed = time.perf_counter() - started
    assert result.reconciliation.loaded == 200
    assert 0 < result.typing_seconds < elapsed


def test_the_identifier_scan_is_timed_inside_the_build(tmp_path: Path) -> None:
    home = write_home(tmp_path)
    started = time.perf_counter()
    stats = build(home, tmp_path / "warehouse" / "warehouse.duckdb")
    elapsed = time.perf_counter() - started
    assert 0 < stats.scan_seconds < elapsed
