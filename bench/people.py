"""`phm bench people`: does `person` count people? The loaded warehouse against the generator's truth.

Reads a home a load has finished (`phm run --data DATA --home HOME`) and DATA/truth/. Prints the person
count against the true number of people, and the published (disclosure-controlled) `linkage_rates`
rows per ethnic group and IMD quintile: the unmatched share among records that arrived without a valid
NHS number, and the share of records linked to a person, with the gap to the best group.

On a demo ICS only a few records stay unmatched, so the published (rounded, suppressed) counts cannot
show a gap of 2 points. From the truth (synthetic data only) it also prints the exact unmatched share
among the records that arrived untraceable, per true ethnic group and IMD quintile, to 0.1 point
(`true_unmatched`): unmatched as `linkage.linkage_quality` counts it (no NHS number, and a pseudo-ID no
other source or month holds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bench.report import BenchError, emit
from bench.truth import person_count_accuracy
from core.layout import Home


def _fairness(home: Home) -> list[dict[str, Any]]:
    from linkage.linkage_quality import FAIRNESS_DIMENSIONS
    from linkage.warehouse import open_read_only

    con = open_read_only(home.warehouse)
    try:
        # SELECT *: a warehouse built before the fairness columns were declared lacks them (shown null).
        rates = con.sql("SELECT * FROM linkage_rates ORDER BY dimension, value").pl()
    finally:
        con.close()
    wanted = {"untraceable_on_arrival_display": "untraceable", "unmatched_pct": "unmatched_pct",
              "linked_pct": "linked_pct", "linked_gap_pp": "linked_gap_pp"}  # fmt: skip
    return [
        {"dimension": r["dimension"], "value": r["value"], **{new: r.get(old) for old, new in wanted.items()}}
        for r in rates.filter(pl.col("dimension").is_in(FAIRNESS_DIMENSIONS)).iter_rows(named=True)
    ]


def bench_people(*, data: Path, home: Path) -> None:
    """Print the person count against truth and, per group, the unmatched and linked shares (%), then
    one JSON line."""
    h = Home(home)
    if not h.warehouse.exists():
        raise BenchError(f"no warehouse in {home}: load it first (phm run --data {data} --home {home})")
    if not (data / "truth" / "records.parquet").exists():
        raise BenchError(
            f"no truth/records.parquet under {data}: a synthetic ICS from phm generate is needed"
        )
    figures = person_count_accuracy(data / "truth", h)
    exact = true_unmatched(data / "truth", h)
    rows = _fairness(h)
    per_group = {
        f"{r['dimension']} {r['value']}": f"unmatched {r['unmatched_pct']} % of {r['untraceable']} "
        f"untraceable; linked {r['linked_pct']} %, gap {r['linked_gap_pp']}"
        for r in rows
    }
    emit({"stage": "people", **figures, **per_group, **_spread(rows), **_true_figures(exact)})


def _spread(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Points between the highest and lowest unmatched share of the known groups of each dimension."""
    out: dict[str, float | None] = {}
    for dim in ("ethnic_group", "imd_quintile"):
        shares = [r["unmatched_pct"] for r in rows
                  if r["dimension"] == dim and r["value"] != "Unknown" and r["unmatched_pct"] is not None]  # fmt: skip
        out[f"unmatched_pct_spread/{dim}"] = round(max(shares) - min(shares), 1) if shares else None
    return out


def true_unmatched(truth_dir: Path, home: Home) -> pl.DataFrame:
    """Exact counts from the truth, per (dimension, value) of the true person's ethnic group and IMD
    quintile: records that arrived without a valid NHS number and were loaded (`untraceable`), those
    left unmatched, and the unmatched share (%), to 0.1. Benchmarks only: it reads the truth."""
    from connectors.spec import ETHNIC_GROUPS
    from pseudonymisation import KeyProvider, LineageTokeniser

    records = pl.read_parquet(
        truth_dir / "records.parquet",
        columns=["file", "line", "person_id", "nhs_missing", "nhs_bad_check_digit"],
    ).with_columns(pl.col("file").cast(pl.String))
    lineage = LineageTokeniser(KeyProvider.dev(home.keys).lineage_key())
    records = records.with_columns(lineage.row_tokens(records["file"], records["line"].cast(pl.Int64)))
    staged = pl.concat(
        pl.read_parquet(p, columns=["row_token", "person_token", "link_method"]).with_columns(
            batch=pl.lit(f"{p.parent.name}/{p.stem}")
        )
        for p in sorted(home.pseudo_staged_dir.glob("*/*.parquet"))
    )
    untraced = pl.col("link_method").is_null() | (pl.col("link_method") == "unmatched")
    shared = (
        staged.filter(untraced).group_by("person_token").agg(pl.col("batch").n_unique().alias("_n"))
        .filter(pl.col("_n") > 1).get_column("person_token")
    )  # fmt: skip
    persons = pl.read_parquet(
        truth_dir / "persons.parquet", columns=["person_id", "ethnic_category", "imd_decile"]
    )
    groups = persons.select(
        "person_id",
        pl.col("ethnic_category").replace_strict(ETHNIC_GROUPS, default="Unknown").alias("ethnic_group"),
        ((pl.col("imd_decile").cast(pl.Int32) + 1) // 2)
        .cast(pl.String)
        .fill_null("Unknown")
        .alias("imd_quintile"),
    )
    arrived = (
        records.filter(pl.col("nhs_missing") | pl.col("nhs_bad_check_digit"))
        .join(staged, on="row_token", how="inner")
        .join(groups, on="person_id", how="left")
        .with_columns((untraced & ~pl.col("person_token").is_in(shared.implode())).alias("_unmatched"))
    )
    out = pl.concat(
        arrived.group_by(pl.col(dim).fill_null("Unknown").alias("value"))
        .agg(pl.len().alias("untraceable"), pl.col("_unmatched").sum().cast(pl.Int64).alias("unmatched"))
        .with_columns(pl.lit(dim).alias("dimension"))
        for dim in ("ethnic_group", "imd_quintile")
    )
    return out.select(
        "dimension", "value", pl.col("untraceable").cast(pl.Int64), "unmatched",
        (100.0 * pl.col("unmatched") / pl.col("untraceable")).round(1).alias("unmatched_pct"),
    ).sort("dimension", "value")  # fmt: skip


def _true_figures(exact: pl.DataFrame) -> dict[str, Any]:
    """`true_unmatched` rows as JSON fields, and the spread (points) between the known groups."""
    out: dict[str, Any] = {
        f"true_unmatched/{r['dimension']} {r['value']}": f"{r['unmatched']} of {r['untraceable']} ({r['unmatched_pct']} %)"
        for r in exact.iter_rows(named=True)
    }
    for dim in ("ethnic_group", "imd_quintile"):
        shares = exact.filter((pl.col("dimension") == dim) & (pl.col("value") != "Unknown"))["unmatched_pct"]
        values = [float(v) for v in shares.drop_nulls().to_list()]
        out[f"true_unmatched_pct_spread/{dim}"] = round(max(values) - min(values), 1) if values else None
    return out
