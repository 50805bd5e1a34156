"""The analyst warehouse as one asset per table, all materialised by one build into the load's build file.

The build (`load.publish_warehouse` over `linkage.warehouse`) makes every table in a new private file,
the load's build (`load.load_build`, named by the run id), so the tables cannot be built one at a time:
one multi-asset, one `AssetSpec` per table. Each spec carries the table's columns
(`dagster/column_schema`, from `linkage.warehouse.schema`) and its lineage: the pseudonymised sources
its SQL reads. Each materialisation carries the table's row count and the build it is in. Nothing is
published here: the quality checks and the cohort step read and add to the build, and the
`published_warehouse` asset (`publish.py`) swaps the whole load in at the end, in one step.
"""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources

import dagster as dg

import load
from connectors.spec import EXTRACTS
from core.disclosure import metadata_count
from linkage.warehouse.schema import ACTIVITY_KEYS, REFERENCE_TABLES, TABLES, table_columns
from pipelines.catalog import column_schema, owned
from pipelines.keys import pseudonymised_key, warehouse_key
from pipelines.resources import PhmPaths


def _read_sql(script: str) -> str:
    return resources.files("linkage.warehouse").joinpath("sql", script).read_text("utf-8")


def _staged_sources(sql: str) -> list[str]:
    """The sources whose staged view (`stg_<source>`) a piece of the build's SQL reads."""
    return sorted({s for s in re.findall(r"\bstg_(\w+)", sql) if s in EXTRACTS})


def sources_by_table() -> dict[str, list[str]]:
    """Warehouse table -> the pseudonymised sources it is built from (for lineage in the UI).

    Activity tables and `person` from their SQL; reference tables from landing/reference (no source);
    the operational tables (reconciliation, quality, load log) cover every source.
    """
    pieces = re.split(r"CREATE TABLE (\w+) AS", _read_sql("activity.sql"))
    activity = {pieces[i]: _staged_sources(pieces[i + 1]) for i in range(1, len(pieces), 2)}
    built_from = {**activity, "person": _staged_sources(_read_sql("person.sql"))}
    every_source = sorted(EXTRACTS)
    return {t: built_from.get(t, [] if t in REFERENCE_TABLES else every_source) for t in TABLES}


def _kind(table: str) -> str:
    if table == "person":
        return "one row per person (token), current demographics and source coverage"
    if table in ACTIVITY_KEYS:
        return "activity, one row per record as supplied"
    if table in REFERENCE_TABLES:
        return "reference lookup"
    return "operational: counts and results only, no patient rows"


def _table_specs() -> list[dg.AssetSpec]:
    """A function, not a module-level list: the defs loader would take a list of specs for assets."""
    columns = table_columns()
    return [
        dg.AssetSpec(
            key=warehouse_key(table),
            deps=[pseudonymised_key(s) for s in sources],
            group_name="warehouse",
            kinds={"duckdb"},
            description=f"Warehouse table `{table}` ({_kind(table)}). Built with every other table into "
            "the load's build file; published with the whole load by `published_warehouse` "
            "(docs/warehouse.md).",
            metadata={**column_schema(columns[table]), "dagster/table_name": f"warehouse.{table}"},
            **owned("pseudonymised"),
        )
        for table, sources in sources_by_table().items()
    ]


@dg.multi_asset(
    name="warehouse",
    specs=_table_specs(),
    description="The analyst warehouse (pseudonymised): built into the load's private build file, "
    "published with the cohort tables at the load's end (published_warehouse).",
)
def warehouse(context: dg.AssetExecutionContext, paths: PhmPaths) -> Iterator[dg.MaterializeResult]:
    home = paths.installation()
    stale = load.start_load_build(home)
    if stale:
        context.log.info(f"removed build files of killed runs: {', '.join(stale)}")
    load_id = uuid.uuid4().hex[:12]
    build = load.load_build(home, context.run_id)
    stats = load.publish_warehouse(
        home, paths.landing, load_id, built_at=datetime.now(UTC), build=build, checks_run=context.run_id
    )
    for table in TABLES:
        yield dg.MaterializeResult(
            asset_key=warehouse_key(table),
            metadata={
                "dagster/row_count": metadata_count(stats.rows.get(table, 0)),
                "load_id": load_id,
                "build": dg.MetadataValue.path(str(build)),
                "published_by": "published_warehouse",
            },
        )
