"""Data quality: expectations per source and on the warehouse (counts only), coverage, the report.

Public face:

* `load_config()` - the expectations of `quality/config.yaml`, validated;
* `run_source_checks(con, home, ...)`, `run_warehouse_checks(...)` - evaluate them (GX on small
  frames, DuckDB SQL at scale, identical counts), returning a `QualityRun` of `CheckResult` rows;
* `before_publish_hook(home, ...)` - a `QualityHook`: pass it as `build_warehouse(before_publish=...)`
  to write `dq_results` into the warehouse being built, and its `save` as `after_publish=` to keep the
  run in the history (`home.dq_history`) once the warehouse is published;
* `coverage(con)` - who is missing and why, disclosure-protected;
* `write_report(con, home, run_id=...)` - the per-run HTML report, `home.dq_report(run_id)` (with a
  Linkage section: match rates by source, ethnic group and IMD quintile, `linkage.linkage_quality`);
  `linkage_markdown(...)` - the same rates as Markdown.

Inside: `results` (the rows), `engine` and `gx` (how they are counted), `inputs` (the views source
checks read), `checks` (the two scopes), `hook` (inside a build), `kept_results` (a load's source
checks kept by its Dagster steps for the build's hook, so each runs once), `history`, `warehouse_tables`.
Every path comes from `core.layout.Home`.
"""

from linkage.warehouse.schema import DQ_RESULTS_COLUMNS
from quality.checks import run_source_checks, run_warehouse_checks
from quality.config import Expectation, QualityConfig, load_config
from quality.coverage import coverage
from quality.expectations import codelist_rows
from quality.gx import load_gx
from quality.history import load_history, load_linkage_rates, save_history
from quality.hook import QualityHook, before_publish_hook
from quality.kept_results import inputs_key, keep_source_run, take_source_run
from quality.report import SECTIONS, linkage_markdown, write_report
from quality.results import CheckResult, QualityRun, outcome
from quality.warehouse_tables import results_from_table, write_dq_results

__all__ = [
    "DQ_RESULTS_COLUMNS",
    "SECTIONS",
    "CheckResult",
    "Expectation",
    "QualityConfig",
    "QualityHook",
    "QualityRun",
    "before_publish_hook",
    "codelist_rows",
    "coverage",
    "inputs_key",
    "keep_source_run",
    "load_config",
    "load_gx",
    "linkage_markdown",
    "load_history",
    "load_linkage_rates",
    "outcome",
    "results_from_table",
    "run_source_checks",
    "run_warehouse_checks",
    "save_history",
    "take_source_run",
    "write_dq_results",
    "write_report",
]
