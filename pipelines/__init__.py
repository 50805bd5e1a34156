"""Orchestration: the Dagster project (code location "phm"), and `phm run`'s headless runner.

`pipelines/` is the only package that imports Dagster. `pipelines/defs/` holds one folder per domain
(assets, checks, sensors, jobs); `pipelines/definitions.py` merges them with the resources. The work
itself is plain functions in the domain packages (`load`, `cohort`, `quality`, `pseudonymisation`), so
`phm bench` and the tests run exactly the code the assets run.
"""

import warnings

# Dagster's beta/preview notices (e.g. for `backfill_policy`) are not for our users; set before any
# asset module is imported.
warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)", module=r"dagster\..*")

from pipelines import run_storage  # noqa: E402  (after the filters: importing it imports no asset module)

run_storage.install()
