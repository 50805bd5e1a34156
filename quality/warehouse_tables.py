"""The warehouse tables quality writes into the build and reads back: `dq_results` (one row per
expectation per run) and `linkage_rates` (disclosure-controlled counts and shares)."""

from __future__ import annotations

import duckdb
import polars as pl

from linkage.warehouse.schema import DQ_RESULTS_COLUMNS, LINKAGE_RATES_COLUMNS
from quality.expectations import has_table, ident
from quality.results import CheckResult


def _replace_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], frame: pl.DataFrame
) -> None:
    """(Re)create `table` with the fixed `columns` (name -> DuckDB type) and the rows of `frame`."""
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    con.execute(f"DROP TABLE IF EXISTS {ident(table)}")
    con.execute(f"CREATE TABLE {ident(table)} ({ddl})")
    if frame.height:
        con.register("_replace_table_in", frame.select(list(columns)))
        try:
            con.execute(f"INSERT INTO {ident(table)} SELECT * FROM _replace_table_in")  # noqa: S608
        finally:
            con.unregister("_replace_table_in")


def write_dq_results(con: duckdb.DuckDBPyConnection, results: pl.DataFrame) -> None:
    """(Re)create the `dq_results` table in the connected database from a results frame."""
    _replace_table(con, "dq_results", DQ_RESULTS_COLUMNS, results)


def write_linkage_rates(con: duckdb.DuckDBPyConnection, rates: pl.DataFrame) -> None:
    """(Re)create the warehouse's `linkage_rates` table (disclosure-controlled counts and shares)."""
    # The warehouse spells no_valid_nhs as untraceable_on_arrival: no column there may say "nhs".
    renamed = rates.rename(lambda c: c.replace("no_valid_nhs", "untraceable_on_arrival"))
    _replace_table(con, "linkage_rates", LINKAGE_RATES_COLUMNS, renamed)


def results_from_table(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """The `dq_results` rows of a warehouse as CheckResults (empty when the table is absent)."""
    if not has_table(con, "dq_results"):
        return []
    frame = con.sql(f"SELECT {', '.join(DQ_RESULTS_COLUMNS)} FROM dq_results").pl()  # noqa: S608
    return [CheckResult(**row) for row in frame.iter_rows(named=True)]
