"""Quality on a small warehouse built from inline staged parquet (tests/fixtures/staged_home.py):
dq_results written through the build hook, history and volume checks, coverage suppression, report."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from core.layout import Home
from linkage.warehouse import WarehouseCheckError, open_read_only
from quality import (
    DQ_RESULTS_COLUMNS,
    SECTIONS,
    before_publish_hook,
    coverage,
    load_history,
    results_from_table,
    write_report,
)
from tests.fixtures.staged_home import build, write_home

AS_OF = date(2025, 3, 1)


def _build(tmp_path: Path, run_id: str, run_at: datetime, engine: str = "auto") -> tuple[Path, Home]:
    dirs = write_home(tmp_path / "home")
    home = Home(tmp_path / "home")
    out = tmp_path / "w.duckdb"
    hook = before_publish_hook(home, run_id=run_id, run_at=run_at, as_of=AS_OF, engine=engine)  # type: ignore[arg-type]
    build(dirs, out, before_publish=hook, after_publish=hook.save)
    return out, home


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Home]:
    return _build(tmp_path_factory.mktemp("dq"), "R1", datetime(2025, 3, 1, 6))


def _counts(out: Path) -> dict[tuple[str, str], tuple[int, int, str]]:
    con = open_read_only(out)
    try:
        return {
            (r.asset, r.expectation): (r.rows_evaluated, r.rows_failed, r.outcome)
            for r in results_from_table(con)
        }
    finally:
        con.close()


def test_dq_results_table_written_into_the_build(built: tuple[Path, Home]) -> None:
    out, _ = built
    con = open_read_only(out)
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'dq_results' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert cols == list(DQ_RESULTS_COLUMNS.items())
    assert con.execute("SELECT DISTINCT run_id FROM dq_results").fetchall() == [("R1",)]
    con.close()


def test_exact_counts_on_the_small_warehouse(built: tuple[Path, Home]) -> None:
    got = _counts(built[0])
    assert got[("warehouse/gp_event", "code_in_codelist")] == (
        3,
        1,
        "warn",
    )  # 271649006 is on no shipped list
    assert got[("warehouse/person", "traced")] == (5, 1, "warn")  # U, the social care client
    assert got[("warehouse/person", "ethnicity_complete")] == (5, 1, "warn")
    assert got[("source/asc_cld", "traced")] == (3, 2, "warn")
    # Over the 5 rows not opted out (6 in, 1 opted out), never rows in: 2 of 5 quarantined > 5 %
    assert got[("source/apc", "quarantine_rate")] == (5, 2, "fail")
    assert got[("source/apc", "quarantine_invalid_date")] == (5, 0, "pass")  # per-reason columns absent: 0
    assert got[("warehouse/apc_spell", "spell_end_not_before_start")] == (2, 0, "pass")
    assert got[("warehouse/mh_spell", "date_not_in_future")] == (2, 0, "pass")
    assert got[("warehouse/gp_event", "token_in_person")] == (3, 0, "pass")
    assert got[("warehouse/apc_episode", "record_id_unique")] == (3, 0, "pass")


def test_history_feeds_volume_check_of_the_next_run(tmp_path: Path) -> None:
    _, paths = _build(tmp_path / "a", "R1", datetime(2025, 3, 1), engine="sql")
    # A later load R0 had 30 January gp_events rows; this load has 3: outside the 30 % tolerance.
    pl.DataFrame({"run_id": ["R0"], "run_at": [datetime(2025, 3, 15)], "source": ["gp_events"],
                  "month": ["2025-01"], "rows": [30]}).write_parquet(paths.dq_history / "volume_R0.parquet")  # fmt: skip
    dirs = write_home(tmp_path / "a" / "home")
    out = tmp_path / "b.duckdb"
    hook = before_publish_hook(paths, run_id="R2", run_at=datetime(2025, 4, 1), as_of=AS_OF, engine="sql")
    build(dirs, out, before_publish=hook, after_publish=hook.save)
    assert _counts(out)[("source/gp_events", "row_count_in_tolerance")] == (1, 1, "warn")
    assert _counts(out)[("source/apc", "row_count_in_tolerance")] == (1, 0, "pass")  # same as run R1
    history = load_history(paths)
    assert history["run_id"].unique(maintain_order=True).to_list() == ["R1", "R2"]  # R0 left only volumes


def test_coverage_is_aggregated_and_suppressed(built: tuple[Path, Home]) -> None:
    con = open_read_only(built[0])
    cov = coverage(con)
    con.close()
    assert set(cov["measure"]) == {"no_gp_data", "not_traced", "registered", "opted_out", "quarantined",
                                   "not_traced_rows"}  # fmt: skip
    # Every count in this tiny warehouse is 1-7: all suppressed, shown as '*'.
    nonzero = cov.filter(pl.col("n_display") != "0")
    assert nonzero["n"].null_count() == nonzero.height
    assert set(nonzero["n_display"]) == {"*"}
    no_gp = cov.filter((pl.col("measure") == "no_gp_data") & (pl.col("dimension") == "practice"))
    assert no_gp["value"].to_list() == ["B00002", "Total"]  # C and E, registered at the non-sharing practice


def test_coverage_rounds_counts_of_eight_or_more(built: tuple[Path, Home]) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET python_enable_replacements = false")
    src = open_read_only(built[0])
    for table in ("person", "opt_out_summary", "opt_out_by_area", "quarantine_summary", "ref_practice", *(
            "gp_event gp_medication apc_episode apc_spell ae_attendance op_appointment community_contact "
            "mh_referral mh_contact mh_spell asc_event".split())):  # fmt: skip
        con.register(f"_{table}", src.sql(f"SELECT * FROM {table}").pl())
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM _{table}")
    con.execute("INSERT INTO person SELECT p.* REPLACE ('U1-' || r.range AS person_token) FROM person AS p, range(12) AS r "
                "WHERE link_method = 'unmatched'")  # fmt: skip
    cov = coverage(con)
    row = cov.filter(
        (pl.col("measure") == "not_traced") & (pl.col("dimension") == "place") & ~pl.col("total")
    )
    assert row.select("value", "n", "n_display").rows() == [("Northtown", 15, "15")]  # 13 -> 15


def test_report_written_with_every_section(built: tuple[Path, Home], tmp_path: Path) -> None:
    out, paths = built
    con = open_read_only(out)
    path = write_report(con, paths, run_id="R1")
    con.close()
    assert path == paths.root / "reports" / "dq_R1.html"
    page = path.read_text(encoding="utf-8")
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert "quarantine_rate" in page and 'data-figure="fig-completeness"' in page
    assert (paths.root / "reports" / "dq_latest.html").read_text(encoding="utf-8") == page
    assert (paths.root / "reports" / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert "http://" not in page and "https://" not in page  # offline: nothing fetched
    assert "P1-" not in page and "U1-" not in page  # no tokens


def test_a_build_that_fails_after_the_checks_keeps_no_history(tmp_path: Path) -> None:
    dirs = write_home(tmp_path / "home")
    paths = Home(tmp_path / "home")
    hook = before_publish_hook(paths, run_id="R9", run_at=datetime(2025, 3, 1, 6), as_of=AS_OF, engine="sql")

    def checks_then_a_breach(con: duckdb.DuckDBPyConnection) -> None:
        hook(con)
        con.execute("CREATE TABLE leak AS SELECT 'x' AS nhs_number")  # the sanity checks refuse this

    with pytest.raises(WarehouseCheckError, match="identifier-like columns"):
        build(dirs, tmp_path / "w.duckdb", before_publish=checks_then_a_breach, after_publish=hook.save)
    assert not (tmp_path / "w.duckdb").exists()
    assert not paths.dq_history.exists() or list(paths.dq_history.iterdir()) == []
