"""People counts by practice, PCN, place, IMD quintile, ethnic group and risk tier, safe to publish.

These are the `agg_people_by_<dimension>` tables the cohort step publishes (`cohort.publish`). They
are related: a practice sits in one PCN, a PCN in one place, and every table carries the same ICS
total. Protected one table at a time, a PCN minus its visible practices (or the total minus the
visible places) would give a suppressed cell back, so practice, PCN and place go through
`core.disclosure.protect_hierarchy` together; the other dimensions are one-way tables with the same
total (`protect_table`), whose lines each hold zero or at least two suppressed cells.

Place here is the place of the person's practice (`person.practice_place`), not of their residence:
only that place contains the PCN, so only it makes the three tables one hierarchy.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from cohort.tiers import pyramid
from core.disclosure import protect_hierarchy, protect_table

__all__ = ["AGGREGATE_BY", "HIERARCHY", "UNKNOWN", "people_aggregates", "pyramid_table"]

#: Outermost first: practice ⊂ PCN ⊂ place (⊂ the ICS total).
HIERARCHY: Final = ("place", "pcn_code", "practice_code")
FLAT: Final = ("imd_quintile", "ethnic_group", "risk_tier")
AGGREGATE_BY: Final = ("practice_code", "pcn_code", "place", *FLAT)
UNKNOWN: Final = "unknown"


def _nested(people: pl.DataFrame) -> pl.DataFrame:
    """One row per (place, PCN, practice) path with its count; a missing level makes every level above
    it unknown too, so an `unknown` PCN sits in the `unknown` place only (a true hierarchy)."""
    practice = pl.col("practice_code").cast(pl.String)
    pcn = pl.when(practice.is_null()).then(None).otherwise(pl.col("pcn_code").cast(pl.String))
    place = pl.when(pcn.is_null()).then(None).otherwise(pl.col("place").cast(pl.String))
    return (
        people.select(
            place.fill_null(UNKNOWN).alias("place"),
            pcn.fill_null(UNKNOWN).alias("pcn_code"),
            practice.fill_null(UNKNOWN).alias("practice_code"),
        )
        .group_by(HIERARCHY, maintain_order=True)
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .sort(HIERARCHY)
    )


def people_aggregates(people: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Dimension -> disclosure-protected table of people (`core.disclosure` one-way layout: the
    dimension column, n, suppression, total, n_display), one row per person in `people` (columns
    practice_code, pcn_code, place, imd_quintile, ethnic_group, risk_tier; nulls counted as unknown)."""
    out = protect_hierarchy(_nested(people), HIERARCHY)
    for by in FLAT:
        counts = (
            people.select(pl.col(by).cast(pl.String).fill_null(UNKNOWN))
            .group_by(by)
            .agg(pl.len().cast(pl.Int64).alias("n"))
            .sort(by)
        )
        out[by] = protect_table(counts, [by])
    return {by: out[by] for by in AGGREGATE_BY}


def pyramid_table(tiered: pl.DataFrame) -> pl.DataFrame:
    """The Kaiser pyramid as published (Dagster metadata, the model card): people per tier and in
    total under `protect_table`, the share of the published counts, and a tier's score range only
    where its count is shown (a tier of one person would show that person's score)."""
    stats = pyramid(tiered)
    safe = protect_table(stats.select("risk_tier", pl.col("people").cast(pl.Int64)), ["risk_tier"], "people")
    total = safe.filter(pl.col("total"))["people"].item()
    shown = pl.col("people").is_not_null()
    return (
        safe.join(
            stats.select("risk_tier", "min_score", "max_score"),
            on="risk_tier",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            (pl.col("people") / total if total else pl.lit(None, pl.Float64)).alias("share"),
            pl.when(shown).then(pl.col("min_score")).alias("min_score"),
            pl.when(shown).then(pl.col("max_score")).alias("max_score"),
        )
        .select("risk_tier", "people", "people_display", "share", "min_score", "max_score", "total")
    )
