"""reports/disclosure_risk: how many people the warehouse's quasi-identifiers single out, every run
(`quality.disclosure_risk`; counts under disclosure control, in metadata and HOME/reports/)."""

import dagster as dg

from linkage.warehouse import open_read_only
from pipelines.catalog import owned
from pipelines.keys import PUBLISH_KEY
from pipelines.resources import PhmPaths
from quality.disclosure_risk import K_THRESHOLD, report_paths, write_report


@dg.asset(
    key=["reports", "disclosure_risk"],
    deps=[PUBLISH_KEY],  # what analysts can read: the published warehouse
    group_name="reports",
    kinds={"json"},
    description="Re-identification risk: people by k-anonymity class size on the warehouse's "
    "quasi-identifiers (birth year-month, sex, LSOA, practice, ethnicity), counts under disclosure control.",
    **owned("pseudonymised"),
)
def disclosure_risk_report(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    con = open_read_only(home.warehouse)
    try:
        sets = write_report(home, con)
    finally:
        con.close()
    json_path, md_path = report_paths(home)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(md_path)),
            "json": dg.MetadataValue.path(str(json_path)),
            **{
                f"share_k_below_{K_THRESHOLD}/{s.name}": s.share_below_k
                for s in sets
                if s.share_below_k is not None
            },
            **{f"people_k_1/{s.name}": s.people_by_k["1"] for s in sets if s.people_by_k["1"] is not None},
        }
    )


disclosure_assets: list[dg.AssetsDefinition] = [disclosure_risk_report]
