"""quality.linkage_fairness: the warning check on the gap in records linked between groups."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from linkage.linkage_quality import protect
from quality.linkage_fairness import EXPECTATION, fairness_result

RUN_AT = datetime(2026, 12, 1, 9, 0)


def _counts(black_unmatched: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dimension": ["source", "ethnic_group", "ethnic_group", "imd_quintile", "imd_quintile"],
            "value": ["apc", "White", "Black", "1", "5"],
            "records": [2000, 1000, 500, 1000, 1000],
            "no_valid_nhs": [200, 100, 100, 100, 100],
            "traced_exact": [100, 50, 50, 50, 50],
            "traced_probabilistic": [50, 30, 20, 30, 30],
            "traced_national": [0, 0, 0, 0, 0],
            "clustered": [0, 0, 0, 0, 0],
            "unmatched": [50, 20, black_unmatched, 20, 30],
        }
    )


def test_a_group_more_than_two_points_behind_warns() -> None:
    result = fairness_result(protect(_counts(30)), run_id="R1", run_at=RUN_AT)
    assert (result.expectation, result.severity, result.outcome) == (EXPECTATION, "warn", "warn")
    assert (result.rows_evaluated, result.rows_failed, result.pass_pct) == (4, 1, 75.0)


def test_gaps_within_two_points_pass() -> None:
    result = fairness_result(protect(_counts(15)), run_id="R1", run_at=RUN_AT)
    assert (result.rows_evaluated, result.rows_failed, result.outcome) == (4, 0, "pass")
