"""The overview site asset: `HOME/reports/site/index.html` (and a dated copy) after every load, from the
published warehouse's protected aggregates (`cohort.overview`). Its metadata links to the page as
`phm reports serve` serves it, with the headline figures as Markdown."""

import dagster as dg

from cohort.overview import write_site
from linkage.warehouse import open_read_only
from pipelines.catalog import owned
from pipelines.keys import PUBLISH_KEY, REPORT_KEY
from pipelines.resources import PhmPaths
from reports import page_url


@dg.asset(
    key=["reports", "overview_site"],
    deps=[PUBLISH_KEY, REPORT_KEY],
    group_name="reports",
    kinds={"html"},
    description="Population health overview site (charts by place, PCN and practice; protected aggregates only).",
    **owned("pseudonymised"),
)
def overview_site(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    con = open_read_only(home.warehouse)
    try:
        site = write_site(con, home)
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={
            "overview": dg.MetadataValue.url(page_url(home.reports, site.index)),
            "headline": dg.MetadataValue.md(site.headline_markdown),
        }
    )


reports_assets: list[dg.AssetsDefinition] = [overview_site]
