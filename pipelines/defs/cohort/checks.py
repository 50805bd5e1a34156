"""Asset checks on the risk model and the published cohorts, read from what the steps stored.

They read the model's saved metadata.json (HOME/models/<version>/) and the warehouse's `cohort_member`
and `person` tables, never a step's in-memory result, so each can be run alone from the UI at any time
after a load. Failures are warnings (`cohort.settings` says why each bound is what it is): a model or
cohort outside them is for a person to look at, and blocks nothing.
"""

from collections.abc import Iterator

import dagster as dg

import load
from cohort import settings as stored
from cohort.definitions import load_cohorts
from core.disclosure import safe_counts
from linkage.warehouse import open_read_only
from pipelines.defs.cohort.assets import COHORT_DIR, PURPOSES
from pipelines.keys import PUBLISHED_KEY
from pipelines.resources import PhmPaths

RISK_MODEL_KEY = dg.AssetKey(["cohort", "risk_model"])


def _model_check_name(metric: str) -> str:
    return f"{metric}_within_bounds"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name=_model_check_name(metric),
            asset=RISK_MODEL_KEY,
            description=f"Held-out {metric} of the current model in [{b.low}, {b.high}]: {b.why}.",
        )
        for metric, b in stored.MODEL_BOUNDS.items()
    ],
    name="risk_model_metrics",
    description="The current model's held-out metrics (its metadata.json) within bounds.",
)
def risk_model_metrics(paths: PhmPaths) -> Iterator[dg.AssetCheckResult]:
    metrics = stored.stored_metrics(stored.current_model_folder(paths.installation()))
    for metric, bounds in stored.MODEL_BOUNDS.items():
        value = metrics.get(metric)
        yield dg.AssetCheckResult(
            asset_key=RISK_MODEL_KEY,
            check_name=_model_check_name(metric),
            passed=bounds.holds(value),
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{metric} {'not computed (too few outcomes)' if value is None else f'{value:.3f}'}"
            f"; bounds [{bounds.low}, {bounds.high}]",
            metadata={
                "value": dg.MetadataValue.float(float("nan") if value is None else float(value)),
                "low": dg.MetadataValue.float(bounds.low),
                "high": dg.MetadataValue.float(bounds.high),
            },
        )


@dg.asset_check(
    asset=PUBLISHED_KEY,
    name="cohort_sizes_within_bounds",
    description=(
        f"Every cohort definition's published list has at least {stored.COHORT_SIZE_BOUNDS.min_members} "
        f"member(s) and at most {stored.COHORT_SIZE_BOUNDS.max_share:.0%} of the warehouse's people "
        "(read from the warehouse's cohort_member and person tables)."
    ),
)
def cohort_sizes_within_bounds(
    context: dg.AssetCheckExecutionContext, paths: PhmPaths
) -> dg.AssetCheckResult:
    ids = [d.id for d in load_cohorts(COHORT_DIR, allowed_purposes=PURPOSES)]
    # This load's build when the run made one (the check runs before the load publishes), else published.
    con = open_read_only(load.warehouse_as_built(paths.installation(), context.run.run_id))
    try:
        (people,) = con.execute("SELECT count(*) FROM person").fetchall()[0]
        sizes = dict.fromkeys(ids, 0) | dict(
            con.execute("SELECT cohort_id, count(*) FROM cohort_member GROUP BY cohort_id").fetchall()
        )
    finally:
        con.close()
    bounds = stored.COHORT_SIZE_BOUNDS
    outside = sorted(cid for cid, n in sizes.items() if not bounds.holds(n, people))
    return dg.AssetCheckResult(
        passed=not outside,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(outside)} of {len(sizes)} cohort(s) outside the bounds"
        + (f": {', '.join(outside)}" if outside else ""),
        metadata=safe_counts(
            {"people": int(people), **{f"size/{cid}": int(n) for cid, n in sorted(sizes.items())}}
        ),
    )
