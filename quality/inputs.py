"""The relations source checks read, as temporary views over the files of an installation:

* records: the pseudonymised staged parquet of a feed (`Home.pseudo_staged`), typed as the warehouse
  stages it, when the checks run on their own rather than inside the build;
* nhs_status: two booleans from the connector's `nhs_number_status` column of the identifiable staged
  files (`Home.staged`); nothing else of those files is read;
* reconciliation: the per-file ops counts (`Home.ops_kind("reconciliation")`), the exact books: the set-aside
  records of `RECONCILIATION_COLUMNS` and `rows_considered`, the rows not opted out (rows in minus opted
  out: loaded + quarantined + excluded), the denominator of their rates. Not rows in, whose difference
  from those published counts would be the file's opt-outs;
* volume: rows per file month now, beside the previous load's (`quality.history`).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from core.layout import Home
from linkage.warehouse.schema import STAGED_COLUMNS
from quality.config import RECONCILIATION_COLUMNS
from quality.expectations import ident
from quality.history import load_volumes, sorted_files


def _parquet_view(con: duckdb.DuckDBPyConnection, name: str, files: list[str], empty: str) -> set[str]:
    """A temp view over `files` (union_by_name); `empty` is a typed zero-row SELECT used without files."""
    if files:
        con.read_parquet(files, union_by_name=True).create_view(ident(f"_raw_{name}"), replace=True)
        return {r[0] for r in con.execute(f"DESCRIBE _raw_{ident(name)}").fetchall()}
    con.execute(f"CREATE OR REPLACE TEMP VIEW _raw_{ident(name)} AS {empty}")
    return set()


def records_view(con: duckdb.DuckDBPyConnection, source: str, home: Home) -> str:
    """`dq_src_<source>`: the feed's pseudonymised staged records with the staged columns and types."""
    schema = STAGED_COLUMNS[source]
    name = f"dq_src_{source}"
    empty = "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in schema.items()) + " WHERE false"
    present = _parquet_view(con, name, sorted_files(home.pseudo_staged(source)), empty)
    cols = ", ".join(
        (f"CAST({c} AS {t}) AS {c}" if (c in present or not present) else f"NULL::{t} AS {c}")
        for c, t in schema.items()
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} FROM _raw_{name}")  # noqa: S608
    return name


def nhs_view(con: duckdb.DuckDBPyConnection, source: str, home: Home) -> str:
    """Counts-only view of the identifiable staged records: two booleans from nhs_number_status."""
    name = f"dq_nhs_{source}"
    present = _parquet_view(
        con, name, sorted_files(home.staged(source)), "SELECT NULL::VARCHAR AS nhs_number_status WHERE false"
    )
    status = "nhs_number_status" if (not present or "nhs_number_status" in present) else "NULL::VARCHAR"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT "  # noqa: S608
        f"{status} IS DISTINCT FROM 'missing' AS nhs_number_present, "
        f"CASE WHEN {status} IS DISTINCT FROM 'missing' THEN {status} = 'valid' END AS nhs_number_valid "
        f"FROM _raw_{name}"
    )
    return name


def reconciliation_view(con: duckdb.DuckDBPyConnection, source: str, home: Home) -> str:
    """`dq_rec_<source>`: rows considered and the set-aside counts per file, missing counts as 0."""
    name = f"dq_rec_{source}"
    empty = "SELECT NULL::BIGINT AS rows_in, NULL::BIGINT AS opted_out WHERE false"
    files = sorted_files(home.ops_kind("reconciliation"), f"{source}_*.parquet")
    present = _parquet_view(con, name, files, empty)

    def count(c: str) -> str:
        return f"coalesce(CAST({c} AS BIGINT), 0)" if c in present else "0::BIGINT"

    cols = ", ".join(
        [f"{count('rows_in')} - {count('opted_out')} AS rows_considered"]
        + [f"{count(c)} AS {c}" for c in RECONCILIATION_COLUMNS]
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} FROM _raw_{name}")  # noqa: S608
    return name


def volume_view(
    con: duckdb.DuckDBPyConnection, source: str, relation: str, home: Home, run_id: str, run_at: datetime
) -> tuple[str, pl.DataFrame]:
    """Rows per file month now, against the previous load of that month (else the 3 months before).

    Registers `dq_volume_<source>` (month, rows, ratio) and returns its name with this run's volumes.
    """
    now = con.sql(
        f"SELECT coalesce(source_month, '') AS month, count(*) AS rows "  # noqa: S608
        f"FROM {ident(relation)} GROUP BY ALL HAVING month <> '' ORDER BY month"
    ).pl()
    current = now.select(
        pl.lit(run_id).alias("run_id"), pl.lit(run_at).cast(pl.Datetime("us")).alias("run_at"),
        pl.lit(source).alias("source"), pl.col("month").cast(pl.String), pl.col("rows").cast(pl.Int64),
    )  # fmt: skip
    history = load_volumes(home).filter(
        (pl.col("source") == source) & (pl.col("run_id") != run_id) & (pl.col("run_at") <= run_at)
    )
    previous = (
        history.sort("run_at").group_by("month").agg(pl.col("rows").last().alias("previous"))
        if history.height
        else pl.DataFrame(schema={"month": pl.String, "previous": pl.Int64})
    )
    trailing = current.sort("month").with_columns(
        pl.col("rows").shift(1).rolling_median(window_size=3, min_samples=1).alias("trailing")
    )
    table = trailing.join(previous, on="month", how="left").with_columns(
        (pl.col("rows") / pl.coalesce(pl.col("previous").cast(pl.Float64), pl.col("trailing"))).alias("ratio")
    )
    name = f"dq_volume_{source}"
    con.register(name, table.select("month", "rows", "ratio"))
    return name, current
