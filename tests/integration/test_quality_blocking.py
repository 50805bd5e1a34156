"""Issue 4 §4: a blocking data quality failure stops downstream assets, and `phm run` (pipelines.runner.load)
says which check failed and by how much. Runs on a copy of the tiny ICS with one feed corrupted (the
shared load's home already has a warehouse and a report, so it could not show that none was built)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from core.layout import Home
from pipelines.runner import PipelineFailed, load
from tests.fixtures.landing_edits import without_manifest


@dataclass
class Corrupted:
    data: Path  # DATA folder holding the corrupted landing
    corrupted: int  # APC data lines this test made malformed
    lines: int  # APC data lines in all
    quarantined: int  # APC data lines the connector must quarantine: ours plus the generator's own


@pytest.fixture
def corrupted(tiny_ics: Path, tmp_path: Path) -> Corrupted:
    """A copy of the tiny ICS's landing whose APC files have 2 data lines in 5 made malformed (an extra
    field). The generator's truth names the lines it made malformed or gave an impossible date."""
    out = tmp_path / "data"
    shutil.copytree(tiny_ics / "landing", out / "landing")
    truth = pl.read_parquet(tiny_ics / "truth" / "records.parquet").filter(
        pl.col("source") == "apc", pl.col("malformed_line") | pl.col("bad_date")
    )
    generator_rejects = {(str(f), int(n)) for f, n in truth.select("file", "line").iter_rows()}
    rejected: set[tuple[str, int]] = set()
    lines_in_all = 0
    for path in sorted((out / "landing" / "apc").glob("apc_*.csv")):
        header, *lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if i % 5 in (0, 2):
                lines[i] = line + ",extra"
                rejected.add((f"apc/{path.name}", i + 2))  # physical line: the header is line 1
        lines_in_all += len(lines)
        without_manifest(path).write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return Corrupted(out, len(rejected), lines_in_all, len(rejected | generator_rejects))


def test_blocking_check_stops_downstream_and_says_why(corrupted: Corrupted, tmp_path: Path) -> None:
    assert corrupted.corrupted > 20
    home = Home(tmp_path / "home").prepare()
    with dg.instance_for_test() as instance, pytest.raises(PipelineFailed) as failure:
        load(data=corrupted.data, home=home, instance=instance)
    message = str(failure.value)
    # Which check, on what, and by how much: every corrupted line and every line the generator broke,
    # out of the lines not opted out (opted-out rows are not the source's to judge; the connector's
    # exact books in the identifiable zone say how many there were).
    books = pl.read_parquet(home.identifiable / "ops_connector" / "reconciliation" / "apc_*.parquet")
    considered = corrupted.lines - int(books["opted_out"].sum())
    assert 0 < considered <= corrupted.lines
    rate = 100 * corrupted.quarantined / considered
    assert (
        f"quarantine_rate on source/apc: {corrupted.quarantined} of {considered} rows failed "
        f"({rate:.2f}%, allowed 5.00%)"
    ) in message, message
    # Downstream of the failing source check nothing was built: no warehouse, no report.
    assert not home.warehouse.exists()
    assert not list(home.reports.glob("dq_*.html"))
