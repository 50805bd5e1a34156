"""The data quality and coverage report for the latest warehouse build (HTML, offline)."""

import uuid
from collections import Counter

import dagster as dg

import load
from core.tables import markdown_table
from linkage.warehouse import TABLES, open_read_only
from pipelines.catalog import owned
from pipelines.keys import REPORT_KEY, warehouse_key
from pipelines.resources import PhmPaths
from quality import linkage_markdown, results_from_table, write_report
from reports import page_url


@dg.asset(
    key=REPORT_KEY,
    deps=[warehouse_key(t) for t in TABLES],
    group_name="reports",
    kinds={"html"},
    description="Data quality and coverage report for the latest warehouse build (HTML, offline).",
    **owned("pseudonymised"),
)
def data_quality_report(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    con = open_read_only(load.warehouse_as_built(home, context.run_id))  # this load's, published or not
    try:
        run_ids = [r.run_id for r in results_from_table(con)]
        run_id = run_ids[0] if run_ids else uuid.uuid4().hex[:12]
        path = write_report(con, home, run_id=run_id)
        counts = Counter(r.outcome for r in results_from_table(con))
        outcomes = [[o, counts[o]] for o in ("pass", "warn", "fail")]
        linkage = linkage_markdown(con, home, run_id)
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            # As `phm reports serve` serves it: browsers refuse file:// links from the UI.
            "report": dg.MetadataValue.url(page_url(home.reports, path)),
            "latest": dg.MetadataValue.url(page_url(home.reports, home.dq_report("latest"))),
            "checks": dg.MetadataValue.md(markdown_table(["outcome", "checks"], outcomes)),
            # Match rates by source, ethnic group and IMD quintile (rounded/suppressed counts).
            "linkage_rates": dg.MetadataValue.md(linkage),
        }
    )


quality_assets: list[dg.AssetsDefinition] = [data_quality_report]
