"""Risk tiers on the Kaiser pyramid: the highest predicted risks are 'very high', then 'high', ...

Cut points are population shares counted from the top (default 0.5 %, 5 %, 20 %). People are ranked by
`risk_score`, highest first; the k-th person (1-based) is in the first tier whose cut point c satisfies
k <= floor(c * n), where n counts people with a score. So with n = 1,000: ranks 1-5 are very high,
6-50 high, 51-200 moderate, the rest low. A tier therefore never holds more than its share.

Ties: people with the same score always share a tier, the tier of the best rank in their tie group
(rank method "min"); a large tie at a boundary can make a tier slightly bigger than its share. People
with no score get no tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

VERY_HIGH = "very high"
HIGH = "high"
MODERATE = "moderate"
LOW = "low"
TIERS: tuple[str, ...] = (VERY_HIGH, HIGH, MODERATE, LOW)


@dataclass(frozen=True)
class TierCuts:
    """Cumulative population shares from the top at which each tier ends (low takes the rest)."""

    very_high: float = 0.005
    high: float = 0.05
    moderate: float = 0.20

    def __post_init__(self) -> None:
        if not 0 <= self.very_high <= self.high <= self.moderate <= 1:
            raise ValueError("tier cut points must satisfy 0 <= very_high <= high <= moderate <= 1")

    def counts(self, n: int) -> tuple[int, int, int]:
        """Last rank (1-based, cumulative) of the very high, high and moderate tiers for n people."""
        # round() first so 0.005 * 1000 (4.999...) floors to 5, not 4.
        return tuple(math.floor(round(c * n, 9)) for c in (self.very_high, self.high, self.moderate))  # type: ignore[return-value]


DEFAULT_CUTS = TierCuts()


def assign_tiers(
    scores: pl.DataFrame, cuts: TierCuts = DEFAULT_CUTS, score_col: str = "risk_score"
) -> pl.DataFrame:
    """`scores` with a `risk_tier` column (and `risk_rank`, 1 = highest risk; ties share the best rank)."""
    n = int(scores.get_column(score_col).is_not_null().sum())
    vh, h, m = cuts.counts(n)
    rank = pl.col(score_col).rank(method="min", descending=True)
    tier = (
        pl.when(pl.col(score_col).is_null())
        .then(None)
        .when(rank <= vh)
        .then(pl.lit(VERY_HIGH))
        .when(rank <= h)
        .then(pl.lit(HIGH))
        .when(rank <= m)
        .then(pl.lit(MODERATE))
        .otherwise(pl.lit(LOW))
    )
    return scores.with_columns(rank.cast(pl.Int64).alias("risk_rank"), tier.alias("risk_tier"))


def pyramid(tiered: pl.DataFrame, score_col: str = "risk_score") -> pl.DataFrame:
    """People, share and score range per tier, top of the pyramid first (zeros included)."""
    order = pl.DataFrame({"risk_tier": list(TIERS), "order": list(range(len(TIERS)))})
    stats = (
        tiered.filter(pl.col("risk_tier").is_not_null())
        .group_by("risk_tier")
        .agg(
            pl.len().alias("people"),
            pl.col(score_col).min().alias("min_score"),
            pl.col(score_col).max().alias("max_score"),
            pl.col(score_col).mean().alias("mean_score"),
        )
    )
    out = (
        order.join(stats, on="risk_tier", how="left")
        .with_columns(pl.col("people").fill_null(0))
        .sort("order")
    )
    total = max(int(out["people"].sum()), 1)
    return out.drop("order").with_columns((pl.col("people") / total).alias("share"))
