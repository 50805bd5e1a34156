"""Kaiser pyramid tiers: exact cut points on inline scores, and ties kept together."""

from __future__ import annotations

import polars as pl
import pytest

from cohort.tiers import TierCuts, assign_tiers, pyramid


def _scores(n: int) -> pl.DataFrame:
    # person k (1-based) has the k-th highest score.
    return pl.DataFrame(
        {
            "person_token": [f"p{k:04d}" for k in range(1, n + 1)],
            "risk_score": [1 - k / (n + 1) for k in range(1, n + 1)],
        }
    )


def test_default_cut_points_on_1000_people() -> None:
    out = assign_tiers(_scores(1000))
    tier = dict(zip(out["person_token"], out["risk_tier"], strict=True))
    assert [tier[f"p{k:04d}"] for k in (1, 5, 6, 50, 51, 200, 201, 1000)] == [
        "very high", "very high", "high", "high", "moderate", "moderate", "low", "low",
    ]  # fmt: skip
    assert pyramid(out)["people"].to_list() == [5, 45, 150, 800]


def test_a_tier_never_exceeds_its_share() -> None:
    # 0.5% of 300 is 1.5 -> 1 person; 5% is 15; 20% is 60.
    out = assign_tiers(_scores(300))
    assert pyramid(out)["people"].to_list() == [1, 14, 45, 240]


def test_configurable_cut_points() -> None:
    out = assign_tiers(_scores(10), TierCuts(very_high=0.1, high=0.3, moderate=0.6))
    assert out["risk_tier"].to_list() == ["very high"] + ["high"] * 2 + ["moderate"] * 3 + ["low"] * 4


def test_ties_share_the_higher_tier_and_nulls_get_none() -> None:
    scores = pl.DataFrame(
        {"person_token": ["a", "b", "c", "d", "e"], "risk_score": [0.9, 0.5, 0.5, 0.1, None]}
    )
    out = assign_tiers(scores, TierCuts(very_high=0.25, high=0.25, moderate=0.5))
    # n = 4 scored: very high = rank 1; moderate = ranks up to 2; b and c tie at rank 2.
    assert out["risk_tier"].to_list() == ["very high", "moderate", "moderate", "low", None]


def test_cut_points_must_increase() -> None:
    with pytest.raises(ValueError, match="cut points"):
        TierCuts(very_high=0.1, high=0.05)
