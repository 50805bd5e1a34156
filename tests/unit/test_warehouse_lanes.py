"""The build's SQL on several cursors at once (linkage/warehouse/lanes.py): units, their order, errors,
and the source checks run alongside the tables giving the same dq_results as run after them."""

from __future__ import annotations

import threading
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl
import pytest

from core.layout import Home
from linkage.warehouse import open_read_only
from linkage.warehouse.lanes import Unit, needs, run_units, units_of
from quality import before_publish_hook
from tests.fixtures.staged_home import build, write_home

AS_OF = date(2025, 3, 1)
RUN_AT = datetime(2025, 3, 1, 6)


def _scripts() -> list[tuple[str, str]]:
    sql = resources.files("linkage.warehouse").joinpath("sql")
    return [(s, sql.joinpath(s).read_text("utf-8")) for s in ("activity.sql", "person.sql")]


def test_activity_statements_are_units_and_person_sql_is_one_waiting_for_apc_spell() -> None:
    units = units_of(_scripts())
    assert [u.name for u in units] == [f"activity.sql:{n}" for n in range(11)] + ["person.sql"]
    assert [sorted(u.creates) for u in units[:4]] == [
        ["gp_event"],
        ["gp_medication"],
        ["apc_episode"],
        ["apc_spell"],
    ]
    person = units[-1]
    assert person.creates == {"person"}  # its TEMP tables are its own, run on its one cursor
    assert len(person.statements) == 13
    assert needs(person, units) == {"apc_spell"}
    assert [u.name for u in units if needs(u, units)] == ["person.sql"]


def _con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(tmp_path / "w.duckdb"))


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]


def test_a_unit_starts_once_the_tables_it_names_are_committed(tmp_path: Path) -> None:
    con = _con(tmp_path)
    scripts = [
        ("a.sql", "CREATE TABLE total AS SELECT sum(n) AS s FROM base; CREATE TABLE base AS SELECT range AS n FROM range(1000);"),
        ("b.sql", "CREATE TEMP TABLE _t AS SELECT s * 2 AS d FROM total; CREATE TABLE doubled AS SELECT d FROM _t; DROP TABLE _t;"),
    ]  # fmt: skip
    units = units_of(scripts)
    assert [(u.name, sorted(needs(u, units))) for u in units] == [
        ("a.sql:0", ["base"]), ("a.sql:1", []), ("b.sql", ["total"]),
    ]  # fmt: skip
    run_units(con.cursor, units, lanes=2)
    assert _tables(con) == ["base", "doubled", "total"]
    assert con.execute("SELECT d FROM doubled").fetchall() == [(999_000,)]


def test_on_one_lane_a_unit_naming_a_later_statement_s_table_waits_for_it(tmp_path: Path) -> None:
    con = _con(tmp_path)
    units = units_of(
        [
            (
                "s.sql",
                "CREATE TABLE c AS SELECT * FROM b; CREATE TABLE b AS SELECT 1 AS x; CREATE TABLE d AS SELECT 2 AS x;",
            )
        ]
    )
    run_units(con.cursor, units, lanes=1)
    assert con.execute("SELECT x FROM c").fetchall() == [(1,)]
    assert _tables(con) == ["b", "c", "d"]


def test_the_first_error_is_raised_and_later_units_do_not_start(tmp_path: Path) -> None:
    con = _con(tmp_path)
    units = units_of(
        [("s.sql", "CREATE TABLE bad AS SELECT error('refused') AS x; CREATE TABLE later AS SELECT 1 AS x;")]
    )
    with pytest.raises(duckdb.InvalidInputException, match="refused"):
        run_units(con.cursor, units, lanes=1)
    assert _tables(con) == []


def test_units_that_wait_on_each_other_are_refused(tmp_path: Path) -> None:
    con = _con(tmp_path)
    units = units_of([("s.sql", "CREATE TABLE a AS SELECT * FROM b; CREATE TABLE b AS SELECT * FROM a;")])
    with pytest.raises(ValueError, match=r"wait on each other: \['s.sql:0', 's.sql:1'\]"):
        run_units(con.cursor, units, lanes=2)


def test_alongside_runs_on_its_own_cursor_during_the_units_and_its_error_is_raised(tmp_path: Path) -> None:
    con = _con(tmp_path)
    seen: list[str] = []

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        assert cur is not con
        seen.append(threading.current_thread().name)
        raise RuntimeError("check failed to run")

    units = [
        Unit("u", ("CREATE TABLE t AS SELECT 1 AS x",), frozenset({"t"}), "create table t as select 1 as x")
    ]
    with pytest.raises(RuntimeError, match="check failed to run"):
        run_units(con.cursor, units, lanes=1, alongside=work)
    assert len(seen) == 1 and seen[0] != threading.current_thread().name


def _dq(dirs: dict[str, Path], home: Home, out: Path, *, alongside: bool) -> pl.DataFrame:
    hook = before_publish_hook(home, run_id="R1", run_at=RUN_AT, as_of=AS_OF, engine="auto")
    build(dirs, out, before_publish=hook, alongside=hook.source_checks if alongside else None)
    con = open_read_only(out)
    try:
        return con.sql("SELECT * FROM dq_results").pl()
    finally:
        con.close()


def test_source_checks_alongside_the_build_give_the_same_dq_results(tmp_path: Path) -> None:
    dirs = write_home(tmp_path / "home")
    home = Home(tmp_path / "home")
    after = _dq(dirs, home, tmp_path / "after.duckdb", alongside=False)
    during = _dq(dirs, home, tmp_path / "during.duckdb", alongside=True)
    assert during.height == after.height > 0
    assert during.filter(pl.col("asset").str.starts_with("source/")).height > 0
    assert during.equals(after)  # same rows in the same order, GX and SQL counts alike
