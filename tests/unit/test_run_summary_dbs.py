"""`phm run`'s summary line for the DBS round trip: counts through disclosure control, awaiting said plainly."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from core.layout import Home
from pipelines.runner import _print_national_trace


def _printed(home: Home) -> str:
    console = Console(record=True, width=400)
    _print_national_trace(home, console)
    return console.export_text()


def test_a_request_without_a_response_is_reported_as_awaiting_not_as_an_error(tmp_path: Path) -> None:
    home = Home(tmp_path).prepare()
    assert _printed(home) == ""  # no round trip yet (no untraced records, or a load without DBS)
    home.dbs_status.parent.mkdir(parents=True)
    counts = {
        "dbs/requested": 72,
        "dbs/traced": 0,
        "dbs/no_match": 0,
        "dbs/awaiting_response": 72,
        "dbs/quarantined": 3,
    }
    home.dbs_status.write_text(json.dumps(counts))
    lines = _printed(home).splitlines()
    assert lines == [
        "National tracing (DBS): requested 70, traced 0, no match 0, awaiting response 70, quarantined *  |  "
        f"request file in {home.dbs_outbox}",
        "  Not an error: records awaiting a DBS response stay untraced until the response is dropped into "
        "landing/dbs/ (docs/extracts.md); the next run applies it.",
    ]
