"""The warehouse's opt-out tables: records removed by opt-outs, coarsened and under disclosure control.

The exact counts (one row per landing file, practice and route: `ops/opt_outs/*.parquet`) are mostly
1-7 at that grain, and they describe people who asked to be left out, so they never enter the
warehouse. Analysts get two tables instead, both from `core.disclosure` (1-7 suppressed, others rounded
to 5, totals from the unrounded counts, secondary suppression):

* `opt_out_summary`: the ICS by source x month (both routes together), with every subtotal, and by
  route over the whole period (`total` marks subtotals; a null source, month or route means "all";
  the row with all three null is the ICS total). Two tables that share only the ICS total, each
  protected with its totals (`protect_table`), so every line (a row or column with its subtotal) holds
  zero or at least two suppressed cells. Not source x month x route with every subtotal: on the small
  synthetic ICS an attacker solving all of that cube's sums at once (a linear programme) narrowed 71 of
  its 127 suppressed cells (some from 1-7 to 3-7), while on these two tables every suppressed cell
  keeps its whole range (tests/integration/test_opt_out_summary.py).
* `opt_out_by_area`: practice ⊂ PCN ⊂ place ⊂ ICS, over the whole loaded period (`first_month` to
  `last_month`) and all sources and routes together, because per practice and month nearly every cell
  is small. The levels are protected as one hierarchy (`protect_hierarchy`), so a PCN minus its visible
  practices, or the ICS minus its visible places, gives no suppressed cell back.

The ICS total is the same unrounded count in both tables, so it is published the same in both.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from core.disclosure import protect_hierarchy, protect_table
from linkage.warehouse.schema import OPT_OUT_TABLES

__all__ = ["AREA_LEVELS", "UNKNOWN", "create_table", "opt_out_tables", "publish_opt_outs", "read_exact"]

#: Outermost first, as `protect_hierarchy` takes them; the level names published in `opt_out_by_area`.
AREA_LEVELS: dict[str, str] = {"place": "place", "pcn_code": "pcn", "practice_code": "practice"}
ICS_LEVEL = "ics"
UNKNOWN = "unknown"
_EXACT_SCHEMA = pl.Schema(
    {
        "source": pl.String,
        "month": pl.String,
        "practice_code": pl.String,
        "route": pl.String,
        "rows": pl.Int64,
    }
)
_PUBLISHED = ("rows", "rows_display", "suppression")


def read_exact(files: list[Path]) -> pl.DataFrame:
    """The exact opt-out counts of the ops files (source, month, practice_code, route, rows)."""
    if not files:
        return pl.DataFrame(schema=_EXACT_SCHEMA)
    return pl.concat(
        [pl.read_parquet(f).select(list(_EXACT_SCHEMA)).cast(_EXACT_SCHEMA) for f in files], how="vertical"
    )


def _area_paths(exact: pl.DataFrame, practices: pl.DataFrame) -> pl.DataFrame:
    """One row per (place, PCN, practice) with its removed rows. A practice the reference data does not
    place is under the `unknown` PCN, and an unknown PCN is under the `unknown` place, so every value
    sits under one parent (a true hierarchy, as `protect_hierarchy` requires)."""
    ref = practices.select(
        pl.col("practice_code").cast(pl.String),
        pl.col("pcn_code").cast(pl.String),
        pl.when(pl.col("pcn_code").is_null())
        .then(None)
        .otherwise(pl.col("place"))
        .cast(pl.String)
        .alias("place"),
    ).unique("practice_code", keep="first")
    return (
        exact.join(ref, on="practice_code", how="left")
        .select(
            pl.col("place").fill_null(UNKNOWN),
            pl.col("pcn_code").fill_null(UNKNOWN),
            pl.col("practice_code").fill_null(UNKNOWN),
            "rows",
        )
        .group_by(list(AREA_LEVELS))
        .agg(pl.col("rows").sum().cast(pl.Int64))
        .sort(list(AREA_LEVELS))
    )


def _summary(exact: pl.DataFrame) -> pl.DataFrame:
    """`opt_out_summary`: source x month with its subtotals, then the routes (their total is the
    same ICS total cell, published once)."""
    columns = list(OPT_OUT_TABLES["opt_out_summary"])
    by_month = (
        exact.group_by("source", "month").agg(pl.col("rows").sum().cast(pl.Int64)).sort("source", "month")
    )
    by_route = exact.group_by("route").agg(pl.col("rows").sum().cast(pl.Int64)).sort("route")
    months = protect_table(by_month, ["source", "month"], "rows").with_columns(
        pl.lit(None, pl.String).alias("route")
    )
    routes = protect_table(by_route, ["route"], "rows").filter(~pl.col("total"))
    routes = routes.with_columns(pl.lit(None, pl.String).alias("source"), pl.lit(None, pl.String).alias("month"),
                                 pl.lit(True).alias("total"))  # fmt: skip
    return pl.concat([months.select(columns), routes.select(columns)])


def opt_out_tables(exact: pl.DataFrame, practices: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The published opt-out tables (name -> frame with `OPT_OUT_TABLES[name]`'s columns) from the exact
    counts and the practices' PCN and place (`ref_practice`: practice_code, pcn_code, place).
    No opt-out rows give empty tables."""
    if exact.height == 0:
        return {name: pl.DataFrame(schema=_polars(cols)) for name, cols in OPT_OUT_TABLES.items()}
    summary = _summary(exact)
    nested = protect_hierarchy(_area_paths(exact, practices), list(AREA_LEVELS), "rows")
    first, last = exact["month"].min(), exact["month"].max()
    parts = []
    for column, level in AREA_LEVELS.items():
        cells = nested[column].filter(~pl.col("total"))
        parts.append(cells.select(pl.lit(level).alias("level"), pl.col(column).alias("area"), *_PUBLISHED))
    total = nested["place"].filter(pl.col("total"))
    parts.append(
        total.select(pl.lit(ICS_LEVEL).alias("level"), pl.lit(None, pl.String).alias("area"), *_PUBLISHED)
    )
    by_area = pl.concat(parts).with_columns(
        pl.lit(first, pl.String).alias("first_month"), pl.lit(last, pl.String).alias("last_month")
    )
    return {
        "opt_out_summary": summary.select(list(OPT_OUT_TABLES["opt_out_summary"])),
        "opt_out_by_area": by_area.select(list(OPT_OUT_TABLES["opt_out_by_area"])),
    }


def publish_opt_outs(
    con: duckdb.DuckDBPyConnection, exact: pl.DataFrame, practices: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """Create the opt-out tables on `con` (a building warehouse) from the exact counts; return them
    as published (`reconciliation` shows each file's cell of `opt_out_summary` as it is here)."""
    tables = opt_out_tables(exact, practices)
    for name, frame in tables.items():
        create_table(con, name, OPT_OUT_TABLES[name], frame)
    return tables


def create_table(
    con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], frame: pl.DataFrame
) -> None:
    """Create `name` with `columns` (fixed names and DuckDB types from the schema) and insert `frame`."""
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    con.execute(f"CREATE TABLE {name} ({ddl})")
    if frame.height:
        con.register("_published_frame", frame.to_arrow())
        con.execute(f"INSERT INTO {name} SELECT {', '.join(columns)} FROM _published_frame")  # noqa: S608
        con.unregister("_published_frame")


def _polars(columns: dict[str, str]) -> dict[str, pl.DataType]:
    kinds: dict[str, pl.DataType] = {"VARCHAR": pl.String(), "BIGINT": pl.Int64(), "BOOLEAN": pl.Boolean()}
    return {c: kinds[t] for c, t in columns.items()}
