"""The warehouse's `reconciliation` table: each landing file's books, as far as they may be published.

The exact books (`ops/reconciliation/<source>_<month>.parquet`, one row per file: rows in, loaded,
quarantined, opted out by route, excluded by reason) are the engineers' and stay in the ops folder.
Before anything is published the build checks them there (rows in = loaded + quarantined + opted out
+ excluded, per file) and refuses the build when a file's books do not balance, naming the file only.
The warehouse gets the result of that check and what can be published without undoing disclosure
control elsewhere:

* **Records, exactly**: loaded (the rows the warehouse holds for the file anyway, row by row),
  quarantined and excluded (by reason). They count records, not people.
* **Opted-out people, as `opt_out_summary` publishes them**: the file's cell of that table (source x
  month), with the same published value, display and suppression, so no cell is exact here and
  suppressed there.
* **Not rows in**, and no opted-out split by route per file. Rows in minus the loaded, quarantined and
  excluded records *is* the file's opt-out count, so with rows in (even rounded) every suppressed
  cell of `opt_out_summary` comes back by subtraction; and the per-route cells per file are the
  source x month x route cube that `opt_out_summary` deliberately does not publish.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from linkage.warehouse.checks import WarehouseCheckError
from linkage.warehouse.opt_outs import create_table
from linkage.warehouse.schema import RECONCILIATION_TABLE

__all__ = ["BOOKS_SCHEMA", "check_books", "publish_reconciliation", "read_books", "reconciliation_table"]

#: The exact books' columns the build reads (missing ones count as 0).
BOOKS_SCHEMA = pl.Schema(
    {
        "source": pl.String,
        "file": pl.String,
        "month": pl.String,
        "rows_in": pl.Int64,
        "loaded": pl.Int64,
        "quarantined": pl.Int64,
        "opted_out": pl.Int64,
        "excluded": pl.Int64,
        "excluded_duplicate": pl.Int64,
        "excluded_practice_not_sharing": pl.Int64,
    }
)
_TEXT = ("source", "file", "month")


def read_books(files: list[Path]) -> pl.DataFrame:
    """The exact books of the ops files, one row per file, `BOOKS_SCHEMA`'s columns."""
    if not files:
        return pl.DataFrame(schema=BOOKS_SCHEMA)
    frames = []
    for f in files:
        frame = pl.read_parquet(f)
        frames.append(
            frame.select(
                pl.col(c).cast(t) if c in frame.columns else pl.lit(None if c in _TEXT else 0, t).alias(c)
                for c, t in BOOKS_SCHEMA.items()
            )
        )
    return pl.concat(frames).with_columns(pl.exclude(_TEXT).fill_null(0))


def check_books(books: pl.DataFrame) -> None:
    """Refuse (WarehouseCheckError) when a file's rows in differ from loaded + quarantined + opted out +
    excluded. The message names the files, never their counts: the exact books stay in the ops folder."""
    total = pl.col("loaded") + pl.col("quarantined") + pl.col("opted_out") + pl.col("excluded")
    unbalanced = books.filter(pl.col("rows_in") != total)["file"].to_list()
    if unbalanced:
        raise WarehouseCheckError(
            f"reconciliation: the books of {len(unbalanced)} file(s) do not balance (rows in != loaded + "
            f"quarantined + opted out + excluded): {', '.join(sorted(unbalanced))}; "
            "see pseudonymised/ops/reconciliation/"
        )


def reconciliation_table(books: pl.DataFrame, opt_out_summary: pl.DataFrame) -> pl.DataFrame:
    """The published `reconciliation` (`RECONCILIATION_TABLE`'s columns), one row per file, from the
    checked exact books and the published `opt_out_summary` (its source x month cells). A file whose
    source and month have no cell there removed nobody: 0, shown as 0."""
    cells = opt_out_summary.filter(
        pl.col("source").is_not_null() & pl.col("month").is_not_null() & pl.col("route").is_null()
    ).select(
        "source",
        "month",
        pl.col("rows").alias("opted_out"),
        pl.col("rows_display").alias("opted_out_display"),
        pl.col("suppression").alias("opted_out_suppression"),
    )
    published = books.drop("opted_out").join(cells, on=["source", "month"], how="left", maintain_order="left")
    missing = pl.col("opted_out_display").is_null()
    return published.with_columns(
        pl.when(missing).then(0).otherwise(pl.col("opted_out")).cast(pl.Int64).alias("opted_out"),
        pl.when(missing).then(pl.lit("0")).otherwise(pl.col("opted_out_display")).alias("opted_out_display"),
        pl.lit(True).alias("books_balance"),  # check_books refused the build otherwise
    ).select(list(RECONCILIATION_TABLE))


def publish_reconciliation(
    con: duckdb.DuckDBPyConnection, files: list[Path], opt_out_summary: pl.DataFrame
) -> None:
    """Check the exact books of `files` and create `reconciliation` on `con` (a building warehouse)."""
    books = read_books(files)
    check_books(books)
    create_table(con, "reconciliation", RECONCILIATION_TABLE, reconciliation_table(books, opt_out_summary))
