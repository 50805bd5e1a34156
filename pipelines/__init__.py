"""Orchestration.

`pipelines.definitions` (and the modules it imports) is the only code that imports Dagster. The plain
modules here — `home` (where things live) and `steps` (one function per pipeline stage, file in, file
out) — are shared by the Dagster assets and by `phm bench`, so both run exactly the same code.
"""

import warnings

# Dagster's beta/preview notices (e.g. for `backfill_policy`) are not for our users; set before any
# asset module is imported.
warnings.filterwarnings("ignore", message=r".*currently in (beta|preview)", module=r"dagster\..*")
