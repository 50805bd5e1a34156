"""`load_all`: every asset over a range of extract months (what `phm run`, the UI and the sensor run).

In-process executor: all steps run in the run's own process, one after another, as `phm run` runs
them. Dagster's default (multiprocess, spawn) starts a fresh Python per step, and each one imports
the project again; for this pipeline's ~50 short steps that cost more than the steps themselves (see
docs/architecture.md, "Dagster project", for the measured figures). Work inside a step stays parallel
(polars threads, `load.map_files`).
"""

import dagster as dg

from pipelines.partitions import extract_months

load_all = dg.define_asset_job(
    "load_all",
    selection=dg.AssetSelection.all(),
    partitions_def=extract_months,
    executor_def=dg.in_process_executor,
    description="Landing -> opt-outs -> tracing -> vault -> warehouse -> quality -> cohorts, for a range of months.",
)
