"""The final books of each file: opt-outs found only after tracing move from loaded to opted out.

The books are exact and stay in the ops folder (the engineer's zone); the warehouse build checks them and
publishes what it may (`linkage.warehouse.books`)."""

from __future__ import annotations

import polars as pl

import connectors
from connectors.spec import extract_filename
from core.layout import Home
from linkage.warehouse.books import read_books
from linkage.warehouse.schema import BOOKS_OPS_KIND
from load.files import write_parquet


def record_trace_opt_outs(home: Home, source: str, month: str, removed: pl.DataFrame) -> None:
    """Add opt-outs found only after tracing to the month's opt-out counts (kept by the connector)."""
    connector = pl.read_parquet(home.ops_connector("opt_outs", source, month))
    file = extract_filename(source, month)
    extra = removed.with_columns(file=pl.lit(file), month=pl.lit(month)).select(connector.columns)
    combined = (
        pl.concat([connector, extra.cast(connector.schema)])
        .group_by("source", "file", "month", "practice_code", "route")
        .agg(pl.col("rows").sum())
        .sort("practice_code", "route", nulls_last=True)
    )
    write_parquet(combined, home.ops("opt_outs", source, month))


def final_reconciliation(home: Home, source: str, month: str, removed: pl.DataFrame) -> pl.DataFrame:
    """The connector's reconciliation with trace-stage opt-outs moved from loaded to opted out."""
    rec = pl.read_parquet(home.ops_connector("reconciliation", source, month))
    by_route = dict(removed.group_by("route").agg(pl.col("rows").sum()).iter_rows())
    moved = sum(by_route.values())
    rec = rec.with_columns(
        loaded=pl.col("loaded") - moved,
        opted_out=pl.col("opted_out") + moved,
        **{f"opted_out_{r}": pl.col(f"opted_out_{r}") + n for r, n in by_route.items()},
    )
    row = rec.row(0, named=True)
    if row["rows_in"] != row["loaded"] + row["quarantined"] + row["opted_out"] + row["excluded"]:
        raise connectors.ReconciliationError(
            f"{source} {month}: rows in {row['rows_in']} != loaded {row['loaded']} + quarantined "
            f"{row['quarantined']} + opted out {row['opted_out']} + excluded {row['excluded']}"
        )
    return rec


def books_by_source(home: Home) -> pl.DataFrame:
    """The final exact books summed per source (rows in, loaded, quarantined, opted out, excluded), for
    the engineer's own terminal (`phm run`'s summary). They stay in the ops folder: the warehouse's
    `reconciliation` publishes the records and the opt-outs under disclosure control."""
    books = read_books(sorted(home.ops_kind(BOOKS_OPS_KIND).glob("*.parquet")))
    counts = ["rows_in", "loaded", "quarantined", "opted_out", "excluded"]
    return books.group_by("source").agg(pl.col(counts).sum()).sort("source").select("source", *counts)
