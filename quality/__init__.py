"""Data quality: expectations per source and on the warehouse (counts only), coverage, the report.

Public face:

* `load_config()` - the expectations of `quality/config.yaml`, validated;
* `run_source_checks(...)`, `run_warehouse_checks(...)` - evaluate them (GX on small frames, DuckDB SQL
  at scale, identical counts), returning a `QualityRun` of `CheckResult` rows;
* `before_publish_hook(...)` - a `QualityHook`: pass it as `build_warehouse(before_publish=...)` to write
  `dq_results` into the warehouse being built, and its `save` as `after_publish=` to keep the run in the
  history once the warehouse is published;
* `coverage(con)` - who is missing and why, disclosure-protected;
* `write_report(...)` - the per-run HTML report (with a Linkage section: match rates by source,
  ethnic group and IMD quintile, `linkage.linkage_quality`); `linkage_markdown(...)` - the same as Markdown.
"""

from quality.config import Expectation, QualityConfig, load_config
from quality.coverage import coverage
from quality.report import SECTIONS, linkage_markdown, write_report
from quality.runner import (
    DQ_RESULTS_COLUMNS,
    CheckResult,
    QualityPaths,
    QualityRun,
    before_publish_hook,
    load_gx,
    load_history,
    load_linkage_rates,
    outcome,
    results_from_table,
    run_source_checks,
    run_warehouse_checks,
    save_history,
    write_dq_results,
)

__all__ = [
    "DQ_RESULTS_COLUMNS",
    "SECTIONS",
    "CheckResult",
    "Expectation",
    "QualityConfig",
    "QualityPaths",
    "QualityRun",
    "before_publish_hook",
    "coverage",
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
    "write_dq_results",
    "write_report",
]
