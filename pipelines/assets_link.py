"""Tracing, pseudonymisation and the warehouse.

`gp_master` (identifiable) feeds `traced` (every record without a valid NHS number, traced once);
`token_map` tokenises each NHS number once and fills the vault; one `pseudonymised/<source>` asset per
source turns staged identifiable records into tokenised, de-identified ones; `warehouse` rebuilds the
analyst DuckDB file from them and swaps it in atomically.
"""

import uuid
from datetime import UTC, datetime

import dagster as dg

from connectors.spec import EXTRACTS, GP_SOURCES
from pipelines import steps
from pipelines.assets_ingest import REGISTERS_KEY, ingest_key
from pipelines.resources import PhmKeys, PhmPaths

GP_MASTER_KEY = dg.AssetKey(["identifiable", "gp_master"])
WAREHOUSE_KEY = dg.AssetKey(["warehouse", "warehouse"])


@dg.asset(
    key=GP_MASTER_KEY,
    deps=[ingest_key("gp_patients")],
    group_name="tracing",
    kinds={"polars"},
    description="GP demographic master: latest demographics per NHS number, for tracing.",
)
def gp_master(paths: PhmPaths) -> dg.MaterializeResult:
    rows = steps.build_gp_master(paths.installation())
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


TRACED_KEY = dg.AssetKey(["identifiable", "traced"])


@dg.asset(
    key=TRACED_KEY,
    deps=[GP_MASTER_KEY, *[ingest_key(s) for s in EXTRACTS if s not in GP_SOURCES]],
    group_name="tracing",
    kinds={"polars", "splink"},
    description=(
        "Records without a valid NHS number, pooled across sources and traced against the GP master: "
        "exact passes, then Splink. Uncertain pairs go to the clerical review file."
    ),
)
def traced(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    counts = steps.trace_records(home)
    return dg.MaterializeResult(
        metadata={**counts, "review_file": dg.MetadataValue.path(str(home.review_queue))}
    )


TOKEN_MAP_KEY = dg.AssetKey(["identifiable", "token_map"])


@dg.asset(
    key=TOKEN_MAP_KEY,
    deps=[TRACED_KEY, REGISTERS_KEY, *[ingest_key(s) for s in EXTRACTS]],
    group_name="pseudonymisation",
    kinds={"polars"},
    description=(
        "Every distinct NHS number of the load tokenised once (HMAC-SHA256, per-domain key) and "
        "encrypted into the vault (AES-GCM). Opted-out people are left out."
    ),
)
def token_map(paths: PhmPaths, keys: PhmKeys) -> dg.MaterializeResult:
    home = paths.installation()
    registers = steps.read_registers(paths.landing, home)
    people = steps.build_token_map(home, keys.provider(home), registers)
    return dg.MaterializeResult(metadata={"dagster/row_count": people})


def pseudonymised_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["pseudonymised", source])


def _pseudonymised_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=pseudonymised_key(source),
        deps=[
            ingest_key(source),
            REGISTERS_KEY,
            TOKEN_MAP_KEY,
            *([] if source in GP_SOURCES else [TRACED_KEY]),
        ],
        group_name="pseudonymisation",
        kinds={"polars", "parquet"},
        description=(
            f"{source}: the trace applied to records without an NHS number, opt-outs re-checked, "
            "NHS numbers replaced by their tokens from the token map, identifiers dropped."
        ),
    )
    def pseudonymise(paths: PhmPaths, keys: PhmKeys) -> dg.MaterializeResult:
        home = paths.installation()
        registers = steps.read_registers(paths.landing, home)
        result = steps.pseudonymise_source(source, home, keys.provider(home), registers)
        return dg.MaterializeResult(metadata={"dagster/row_count": result.loaded, **result.as_dict()})

    return pseudonymise


pseudonymised_assets = [_pseudonymised_asset(s) for s in EXTRACTS]


@dg.asset(
    key=WAREHOUSE_KEY,
    deps=[pseudonymised_key(s) for s in EXTRACTS],
    group_name="warehouse",
    kinds={"duckdb"},
    description="The analyst warehouse (pseudonymised): built as a new file and swapped in atomically.",
)
def warehouse(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    load_id = uuid.uuid4().hex[:12]
    stats = steps.publish_warehouse(home, paths.landing, load_id, built_at=datetime.now(UTC))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(home.warehouse)),
            "load_id": load_id,
            **{f"rows/{table}": count for table, count in stats.rows.items()},
        }
    )
