"""Source checks once per load (quality/kept_results.py): the build's hook takes the counts a load's
`dq_<source>` checks kept, only for the same load and unchanged inputs, and recomputes otherwise."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from core.layout import Home
from linkage.warehouse import open_read_only
from quality import (
    QualityRun,
    before_publish_hook,
    codelist_rows,
    inputs_key,
    keep_source_run,
    load_config,
    run_source_checks,
)
from quality.expectations import shipped_codelists
from tests.fixtures.staged_home import build, write_home

AS_OF = date(2025, 3, 1)
RUN_AT = datetime(2025, 3, 1, 6)
STAMPS = ["run_id", "run_at"]


def _home(tmp_path: Path) -> tuple[dict[str, Path], Home]:
    return write_home(tmp_path / "home"), Home(tmp_path / "home")


def _keep_all(
    home: Home, load: str, *, tamper: str | None = None, codelists: Path | None = None
) -> dict[str, QualityRun]:  # fmt: skip
    """What the `dq_<source>` steps do: evaluate each source on its files, keep the counts for `load`.
    With `codelists` (a folder), codes are matched against those lists (as the build loads them), else
    against the shipped ones. With `tamper`, that source's kept counts are made wrong (rows_failed 999)."""
    config = load_config()
    kept = {}
    for source in config.source_targets:
        con = duckdb.connect()
        try:
            if codelists is not None:
                pairs = pl.DataFrame(shipped_codelists(codelists), schema=["codelist", "code"], orient="row")
                con.register("_pairs", pairs)
                con.execute("CREATE TABLE ref_codelist AS SELECT * FROM _pairs")
            key = inputs_key(
                home, source, as_of=AS_OF, engine="sql", config=config, codelists=codelist_rows(con)
            )
            run = run_source_checks(con, home, run_id="DAGSTER", run_at=RUN_AT, as_of=AS_OF, sources=[source],
                                    config=config, engine="sql")  # fmt: skip
        finally:
            con.close()
        if source == tamper:
            run.results = [dataclasses.replace(r, rows_failed=999) for r in run.results]
        keep_source_run(home, source, run, load=load, key=key)
        kept[source] = run
    return kept


def _build(dirs: dict[str, Path], home: Home, out: Path, load: str | None) -> tuple[pl.DataFrame, list[str]]:
    hook = before_publish_hook(home, run_id="R1", run_at=RUN_AT, as_of=AS_OF, engine="sql", load=load)
    build(dirs, out, before_publish=hook)
    con = open_read_only(out)
    try:
        return con.sql("SELECT * FROM dq_results").pl(), hook.reused
    finally:
        con.close()


def _kept_files(home: Home) -> list[Path]:
    return sorted(home.ops_kind("dq_source_runs").glob("*"))


def test_reused_results_give_the_same_dq_results_as_computing_them(tmp_path: Path) -> None:
    dirs, home = _home(tmp_path)
    fresh, reused = _build(dirs, home, tmp_path / "fresh.duckdb", load=None)
    assert reused == []
    kept = _keep_all(home, "RUN-A", codelists=dirs["codelists"])
    again, reused = _build(dirs, home, tmp_path / "again.duckdb", load="RUN-A")
    assert reused == sorted(load_config().source_targets) and len(reused) == len(kept)
    assert again.equals(fresh)  # same rows, same order, stamps included (the hook's own)
    assert set(again["run_id"]) == {"R1"}
    assert _kept_files(home) == []  # taken once, then removed


def test_kept_file_is_private_and_holds_counts_only(tmp_path: Path) -> None:
    dirs, home = _home(tmp_path)
    _keep_all(home, "RUN-A", codelists=dirs["codelists"])
    files = _kept_files(home)
    assert [f.name for f in files] == sorted(f"{s}.json" for s in load_config().source_targets)
    assert stat.S_IMODE(home.ops_kind("dq_source_runs").stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    # Every string of the staged records holding a digit (tokens, codes, LSOAs, practices), the month aside;
    # the rest are labels the configuration names too (a trace method `nhs_number`).
    values = set()
    for parquet in dirs["staged"].rglob("*.parquet"):
        frame = pl.read_parquet(parquet).drop("source_month", strict=False)
        for column in frame.select(pl.col(pl.String)).columns:
            values |= {
                v
                for v in frame[column].drop_nulls().to_list()
                if len(v) >= 4 and any(ch.isdigit() for ch in v)
            }
    assert values  # the fixture has strings to look for
    for f in files:
        body = json.loads(f.read_text())
        assert set(body) == {"format", "load", "source", "inputs_key", "results", "volumes"}
        assert {k for r in body["results"] for k in r} == {
            "asset", "expectation", "category", "kind", "engine", "rows_evaluated", "rows_failed", "pass_pct",
            "threshold", "severity", "outcome",
        }  # fmt: skip
        assert {k for v in body["volumes"] for k in v} <= {"source", "month", "rows"}
        text = f.read_text()
        months = {v["month"] for v in body["volumes"]}  # file months, the volumes' key
        assert [v for v in values - months if v in text] == []


def test_results_kept_for_another_run_are_recomputed(tmp_path: Path) -> None:
    dirs, home = _home(tmp_path)
    fresh, _ = _build(dirs, home, tmp_path / "fresh.duckdb", load=None)
    _keep_all(home, "RUN-A", tamper="apc", codelists=dirs["codelists"])
    other, reused = _build(dirs, home, tmp_path / "other.duckdb", load="RUN-B")
    assert reused == []
    assert other.equals(fresh)
    assert 999 not in other["rows_failed"].to_list()
    assert _kept_files(home) == []  # a foreign file is dropped, not left for a later run


def test_results_kept_before_an_input_changed_are_recomputed(tmp_path: Path) -> None:
    dirs, home = _home(tmp_path)
    fresh, _ = _build(dirs, home, tmp_path / "fresh.duckdb", load=None)
    sources = load_config().source_targets
    changed, untouched = "apc", next(s for s in sources if s != "apc" and (home.pseudo_staged(s)).is_dir())
    _keep_all(home, "RUN-A", tamper=changed, codelists=dirs["codelists"])
    # Kept counts are used when still valid: tamper the untouched source too and it shows through.
    kept_untouched = json.loads((home.ops_kind("dq_source_runs") / f"{untouched}.json").read_text())
    path = home.ops_kind("dq_source_runs") / f"{untouched}.json"
    for r in kept_untouched["results"]:
        r["rows_failed"] = 777
    path.write_text(json.dumps(kept_untouched))
    staged = next(home.pseudo_staged(changed).glob("*.parquet"))
    st = staged.stat()
    os.utime(staged, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same bytes, later mtime
    got, reused = _build(dirs, home, tmp_path / "got.duckdb", load="RUN-A")
    assert changed not in reused and untouched in reused
    mine = got.filter(pl.col("asset") == f"source/{changed}").drop(STAMPS)
    assert mine.equals(fresh.filter(pl.col("asset") == f"source/{changed}").drop(STAMPS))
    assert mine.height > 0 and 999 not in mine["rows_failed"].to_list()
    theirs = got.filter(pl.col("asset") == f"source/{untouched}")
    assert theirs.height > 0 and set(theirs["rows_failed"]) == {777}


def test_results_matched_against_other_code_lists_are_recomputed(tmp_path: Path) -> None:
    dirs, home = _home(tmp_path)
    fresh, _ = _build(dirs, home, tmp_path / "fresh.duckdb", load=None)
    _keep_all(home, "RUN-A")  # the shipped lists, not the build's one-list folder: other codelist counts
    got, reused = _build(dirs, home, tmp_path / "got.duckdb", load="RUN-A")
    assert reused == []
    assert got.equals(fresh)
