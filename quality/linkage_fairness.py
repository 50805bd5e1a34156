"""The linkage fairness check: no ethnic group or IMD quintile far behind the best in records linked.

A warning (never a block): a group more than `linkage.linkage_quality.FAIRNESS_GAP_PP` points below the
best group of its dimension in the share of records linked to a person. Evaluated on the published
(disclosure-controlled) rates, so it counts groups, not people, and names no value but the group.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from linkage.linkage_quality import FAIRNESS_DIMENSIONS, FAIRNESS_GAP_PP
from quality.results import CheckResult, outcome

EXPECTATION = "linked_share_gap_within_2_points"


def fairness_result(rates: pl.DataFrame, *, run_id: str, run_at: datetime) -> CheckResult:
    """One `warn`-severity result over the ethnic-group and IMD-quintile rows of `rates`."""
    groups = rates.filter(
        pl.col("dimension").is_in(FAIRNESS_DIMENSIONS) & pl.col("linked_gap_pp").is_not_null()
    )
    evaluated = groups.height
    failed = groups.filter(pl.col("linked_gap_pp") > FAIRNESS_GAP_PP).height
    return CheckResult(
        run_id=run_id,
        run_at=run_at,
        asset="linkage_rates",
        expectation=EXPECTATION,
        category="linkage",
        kind="fairness",
        engine="polars",
        rows_evaluated=evaluated,
        rows_failed=failed,
        pass_pct=round(100.0 * (evaluated - failed) / evaluated, 4) if evaluated else None,
        threshold=0.0,
        severity="warn",
        outcome=outcome(evaluated, failed, 0.0, "warn"),
    )
