"""Loading again over a loaded home, on a private copy of the session's one load of the tiny ICS
(`tiny_loaded_copy`): a re-run replaces each month and never duplicates, readers see whole loads while a
load publishes, and a malformed file fails only its partition and leaves the warehouse intact."""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

import load as steps
from core.layout import Home
from linkage.warehouse import open_read_only
from pipelines.runner import PipelineFailed, load
from tests.fixtures.landing_edits import without_manifest

_NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _counts(home: Home) -> dict[str, int]:
    """Rows per warehouse table, except the load log (every load adds to it)."""
    con = open_read_only(home.warehouse)
    try:
        names = [r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()]
        return {n: con.sql(f'select count(*) from "{n}"').fetchall()[0][0] for n in names if n != "load_log"}
    finally:
        con.close()


def _load_ids(home: Home, source: str) -> dict[str, list[str]]:
    """The load ids in each staged month of a source (identifiable zone)."""
    return {
        m: pl.read_parquet(home.staged(source, m), columns=["load_id"])["load_id"].unique().to_list()
        for m in steps.staged_months(home, source)
    }


def test_rerun_replaces_months_and_never_duplicates(
    tiny_ics: Path, tiny_loaded: Home, tiny_loaded_copy: Home
) -> None:
    """Loading the same landing again (on a copy of the shared home) reads every month again and
    replaces what each month loaded: the warehouse holds exactly the rows it held."""
    before = _load_ids(tiny_loaded, "apc")
    with dg.instance_for_test() as instance:
        months = load(data=tiny_ics, home=tiny_loaded_copy, instance=instance)
    assert _counts(tiny_loaded_copy) == _counts(tiny_loaded)
    after = _load_ids(tiny_loaded_copy, "apc")
    assert sorted(after) == months
    assert [m for m in months if len(after[m]) == 1 and after[m] != before[m]] == months


def test_readers_see_whole_loads_while_a_load_runs(tiny_ics: Path, tiny_loaded_copy: Home) -> None:
    home = tiny_loaded_copy
    con = open_read_only(home.warehouse)
    persons = con.sql("select count(*) from person").fetchall()[0][0]
    con.close()
    errors: list[BaseException] = []

    def rebuild() -> None:
        try:
            for _ in range(2):
                steps.publish_warehouse(home, tiny_ics / "landing", "concurrent", built_at=_NOW)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=rebuild)
    writer.start()
    reads = 0
    while writer.is_alive() or reads == 0:
        reader = open_read_only(home.warehouse)
        try:
            assert reader.sql("select count(*) from person").fetchall()[0][0] == persons
            assert reader.sql("select count(*) from reconciliation").fetchall()[0][0] > 0
        finally:
            reader.close()
        reads += 1
    writer.join()
    assert errors == []
    assert reads >= 2


def test_malformed_file_fails_its_partition_and_leaves_warehouse_intact(
    tiny_ics: Path, tiny_loaded_copy: Home, tmp_path: Path
) -> None:
    home = tiny_loaded_copy
    data = tmp_path / "data"
    shutil.copytree(tiny_ics / "landing", data / "landing")
    published = hashlib.sha256(home.warehouse.read_bytes()).hexdigest()
    staged_before = _load_ids(home, "apc")
    months = steps.landing_months(data / "landing")
    bad = data / "landing" / "apc" / f"apc_{months[2]}.csv"
    without_manifest(bad).write_bytes(bad.read_bytes() + b"\xff\xfe not utf-8\n")
    with dg.instance_for_test() as instance, pytest.raises(PipelineFailed) as failure:
        load(data=data, home=home, instance=instance)
    message = str(failure.value)
    assert f"apc/apc_{months[2]}.csv" in message
    assert "UTF-8" in message
    assert "1 of 3 partition(s) of apc failed" in message  # the tiny ICS has three months
    assert hashlib.sha256(home.warehouse.read_bytes()).hexdigest() == published
    # The other months of the same source were loaded again by this run; the failed one was not.
    staged_after = _load_ids(home, "apc")
    assert staged_after[months[2]] == staged_before[months[2]]
    assert [m for m in months if staged_after[m] != staged_before[m]] == [m for m in months if m != months[2]]
