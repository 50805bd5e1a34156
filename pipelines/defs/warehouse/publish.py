"""`published_warehouse`: the load's one publish step, after the cohort step.

Every table of a load (the warehouse build with its quality results, then the cohort step's tables) is
made in the load's private build file (`load.load_build`, named by the run id); this asset swaps that
file in over the published warehouse with one `os.replace` (`load.publish_load`). Readers see the
previous complete warehouse or this load's, never a mix, and a load that fails or is stopped by a
blocking check before this step leaves the published file exactly as it was.
"""

import dagster as dg

import load
from linkage.warehouse import TABLES, open_read_only
from pipelines.catalog import owned
from pipelines.keys import PUBLISH_KEY, PUBLISHED_KEY, warehouse_key
from pipelines.resources import PhmPaths


@dg.asset(
    key=PUBLISH_KEY,
    deps=[PUBLISHED_KEY, *(warehouse_key(t) for t in TABLES)],
    group_name="warehouse",
    kinds={"duckdb"},
    description="Publishes the load's build (every warehouse table, quality results and cohort tables) "
    "over the analyst warehouse in one atomic step (docs/architecture.md, 'Publishing').",
    **owned("pseudonymised"),
)
def published_warehouse(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    if not load.publish_load(home, context.run_id):
        raise dg.Failure("this run built no warehouse to publish; the published warehouse is unchanged")
    con = open_read_only(home.warehouse)
    try:
        tables = con.sql("SELECT count(*) FROM duckdb_tables()").fetchall()[0][0]
        (load_id,) = con.sql("SELECT any_value(load_id) FROM load_log").fetchall()[0]
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(home.warehouse)),
            "tables": int(tables),
            "load_id": str(load_id),
        }
    )


warehouse_publish_assets = [published_warehouse]
