"""Bridges-to-Health population segments (Lynn et al., Milbank Q 2007) from the features table.

Each person gets exactly one segment: the rules are tried in `SEGMENT_RULES` order and the first that
holds wins, so the segments with the greatest need come first. The rules are deliberately simple,
built only from features the warehouse supports; docs/risk_model.md gives the reasoning and the gaps
(there is no maternity feed and no palliative care register, so two segments rest on proxies).

1. short decline before dying (end-of-life proxy): cancer and an emergency admission in 12 months.
2. limited reserve: heart failure, COPD or CKD and an emergency admission in 12 months.
3. frailty: moderate or severe eFI at 65 or over, or dementia at any age.
4. serious disability: learning disability, or a long-term social care service open now.
5. maternal and infant health: aged under 1, or a maternity admission (ADMIMETH 31-32) in 12 months.
6. chronic conditions: at least one long-term condition (normal function: none of the above).
7. acutely ill: no long-term condition, but an admission or A&E attendance in 12 months.
8. healthy: everyone else.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from core.disclosure import protect_table

SHORT_DECLINE = "short decline before dying"
LIMITED_RESERVE = "limited reserve"
FRAILTY = "frailty"
SERIOUS_DISABILITY = "serious disability"
MATERNAL_INFANT = "maternal and infant health"
CHRONIC = "chronic conditions"
ACUTELY_ILL = "acutely ill"
HEALTHY = "healthy"

# Bridges to Health order (life course), used for display; SEGMENT_RULES gives the assignment order.
SEGMENTS: tuple[str, ...] = (
    HEALTHY, MATERNAL_INFANT, ACUTELY_ILL, CHRONIC, SERIOUS_DISABILITY, SHORT_DECLINE, LIMITED_RESERVE, FRAILTY,
)  # fmt: skip

FRAILTY_MIN_AGE = 65
FRAIL_CATEGORIES = ("moderate", "severe")
ORGAN_FAILURE = ("has_heart_failure", "has_copd", "has_ckd")

SEGMENT_COLUMNS: tuple[str, ...] = (
    "person_token", "age", "ltc_count", "has_cancer", "has_dementia", "has_learning_disability",
    *ORGAN_FAILURE, "frailty_category", "emergency_admissions_12m", "elective_admissions_12m", "ae_12m",
    "maternity_12m", "asc_long_term_support",
)  # fmt: skip


def _flag(name: str) -> pl.Expr:
    return pl.col(name).fill_null(False)


def _count(name: str) -> pl.Expr:
    return pl.col(name).fill_null(0)


def _rules() -> list[tuple[str, pl.Expr]]:
    emergency = _count("emergency_admissions_12m") >= 1
    return [
        (SHORT_DECLINE, _flag("has_cancer") & emergency),
        (LIMITED_RESERVE, pl.any_horizontal(_flag(c) for c in ORGAN_FAILURE) & emergency),
        (
            FRAILTY,
            (pl.col("frailty_category").is_in(FRAIL_CATEGORIES).fill_null(False)
             & (pl.col("age").fill_null(0) >= FRAILTY_MIN_AGE))
            | _flag("has_dementia"),
        ),
        (SERIOUS_DISABILITY, _flag("has_learning_disability") | _flag("asc_long_term_support")),
        (MATERNAL_INFANT, (pl.col("age").fill_null(99) < 1) | _flag("maternity_12m")),
        (CHRONIC, _count("ltc_count") >= 1),
        (
            ACUTELY_ILL,
            emergency | (_count("elective_admissions_12m") >= 1) | (_count("ae_12m") >= 1),
        ),
    ]  # fmt: skip


SEGMENT_RULES: tuple[str, ...] = (*[name for name, _ in _rules()], HEALTHY)


def segment_expr() -> pl.Expr:
    """The segment of each row (a polars expression over the SEGMENT_COLUMNS of the features table)."""
    rules = _rules()
    name, cond = rules[0]
    expr: Any = pl.when(cond).then(pl.lit(name))
    for name, cond in rules[1:]:
        expr = expr.when(cond).then(pl.lit(name))
    return expr.otherwise(pl.lit(HEALTHY)).alias("segment")


def assign_segments(features: pl.DataFrame) -> pl.DataFrame:
    """(person_token, segment) for every row of a features frame."""
    missing = [c for c in SEGMENT_COLUMNS if c not in features.columns]
    if missing:
        raise ValueError(f"features frame lacks columns needed for segments: {missing}")
    return features.select("person_token", segment_expr())


def segment_counts(segmented: pl.DataFrame) -> pl.DataFrame:
    """People per segment, in Bridges-to-Health order (zeros included)."""
    order = pl.DataFrame({"segment": list(SEGMENTS), "order": list(range(len(SEGMENTS)))})
    counts = segmented.group_by("segment").agg(pl.len().alias("people"))
    return (
        order.join(counts, on="segment", how="left")
        .with_columns(pl.col("people").fill_null(0))
        .sort("order")
        .drop("order")
    )


def segment_table(segmented: pl.DataFrame) -> pl.DataFrame:
    """People per segment as published (Dagster metadata, the model card): `segment_counts` through
    `core.disclosure.protect_table` with its total (1-7 suppressed, rounded to 5, secondary
    suppression so the total minus the other segments gives no suppressed one back)."""
    return protect_table(segment_counts(segmented), ["segment"], count_col="people")
