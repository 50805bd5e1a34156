"""Tracing and pseudonymisation.

`gp_master` (identifiable) feeds `traced` (every record without a valid NHS number, traced once),
then `clustered` (what tracing left, clustered into people with persistent IDs);
`token_map` tokenises each NHS number once and fills the vault; one `pseudonymised/<source>` asset per
source (all made by one subsettable step) turns staged identifiable records into tokenised,
de-identified ones, which the warehouse tables (`pipelines/defs/warehouse`) are built from.
"""

from collections.abc import Iterator

import dagster as dg

import load
from connectors.spec import EXTRACTS, GP_SOURCES
from core.disclosure import safe_counts
from pipelines.catalog import owned
from pipelines.keys import (
    CLUSTERED_KEY,
    GP_MASTER_KEY,
    REGISTERS_KEY,
    TOKEN_MAP_KEY,
    TRACED_KEY,
    ingest_key,
    pseudonymised_key,
)
from pipelines.resources import DbsMailbox, PhmKeys, PhmPaths


@dg.asset(
    key=GP_MASTER_KEY,
    deps=[ingest_key("gp_patients")],
    group_name="tracing",
    kinds={"polars"},
    description="GP demographic master: latest demographics per NHS number, for tracing.",
    **owned("identifiable"),
)
def gp_master(paths: PhmPaths) -> dg.MaterializeResult:
    rows = load.build_gp_master(paths.installation())
    return dg.MaterializeResult(metadata=safe_counts({"dagster/row_count": rows}))


@dg.asset(
    key=TRACED_KEY,
    deps=[GP_MASTER_KEY, *[ingest_key(s) for s in EXTRACTS if s not in GP_SOURCES]],
    group_name="tracing",
    kinds={"polars", "splink"},
    description=(
        "Records without a valid NHS number, pooled across sources and traced against the GP master: "
        "exact passes, then Splink. Uncertain pairs go to the clerical review file. What is still "
        "untraced goes to the national Demographics Batch Service (request file in the identifiable "
        "outbox; answers read from landing/dbs/)."
    ),
    **owned("identifiable"),
)
def traced(paths: PhmPaths, dbs: dg.ResourceParam[DbsMailbox]) -> dg.MaterializeResult:
    home = paths.installation()
    counts = load.trace_records(home, national=load.NationalTracing(paths.landing, dbs.answer))
    return dg.MaterializeResult(
        metadata={**safe_counts(counts), "review_file": dg.MetadataValue.path(str(home.review_queue))}
    )


@dg.asset(
    key=CLUSTERED_KEY,
    deps=[TRACED_KEY],
    group_name="tracing",
    kinds={"polars", "splink"},
    description=(
        "Records tracing left without an NHS number, clustered across sources and months (Splink "
        "dedupe) into people with persistent IDs. Merges and splits go to the cluster review file."
    ),
    **owned("identifiable"),
)
def clustered(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    counts = load.cluster_untraced(home)
    return dg.MaterializeResult(
        metadata={**safe_counts(counts), "review_file": dg.MetadataValue.path(str(home.cluster_review))}
    )


@dg.asset(
    key=TOKEN_MAP_KEY,
    deps=[TRACED_KEY, REGISTERS_KEY, *[ingest_key(s) for s in EXTRACTS]],
    group_name="pseudonymisation",
    kinds={"polars"},
    description=(
        "Every distinct NHS number of the load tokenised once (HMAC-SHA256, per-domain key) and "
        "encrypted into the vault (AES-GCM). Opted-out people are left out."
    ),
    **owned("identifiable"),
)
def token_map(paths: PhmPaths, keys: PhmKeys) -> dg.MaterializeResult:
    home = paths.installation()
    registers = load.read_registers(paths.landing, home)
    people = load.build_token_map(home, keys.provider(home), registers)
    return dg.MaterializeResult(metadata=safe_counts({"dagster/row_count": people}))


def _pseudonymised_spec(source: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=pseudonymised_key(source),
        deps=[
            ingest_key(source),
            REGISTERS_KEY,
            TOKEN_MAP_KEY,
            *([] if source in GP_SOURCES else [TRACED_KEY, CLUSTERED_KEY]),
        ],
        group_name="pseudonymisation",
        kinds={"polars", "parquet"},
        description=(
            f"{source}: the trace applied to records without an NHS number, opt-outs re-checked, "
            "NHS numbers replaced by their tokens from the token map, identifiers dropped."
        ),
        **owned("pseudonymised"),
    )


# One step for every source (still one asset each, subsettable): the sources' staged months then share
# one pool of file workers, largest first, and the lookups are read once. As nine steps run one after
# another, each left a core idle while its slowest month finished.
@dg.multi_asset(
    name="pseudonymised_sources", specs=[_pseudonymised_spec(s) for s in EXTRACTS], can_subset=True
)
def pseudonymised_sources(
    context: dg.AssetExecutionContext, paths: PhmPaths, keys: PhmKeys
) -> Iterator[dg.MaterializeResult]:
    home = paths.installation()
    registers = load.read_registers(paths.landing, home)
    sources = [s for s in EXTRACTS if pseudonymised_key(s) in context.selected_asset_keys]
    results = load.pseudonymise_sources(sources, home, keys.provider(home), registers)
    for source in sources:
        result = results[source]
        # Not rows in or opted out: with the loaded records they give the opt-outs by subtraction,
        # which the warehouse publishes only in opt_out_summary, under disclosure control.
        shown = {k: v for k, v in result.as_dict().items() if k not in ("rows_in", "opted_out")}
        yield dg.MaterializeResult(
            asset_key=pseudonymised_key(source),
            metadata=safe_counts({"dagster/row_count": result.loaded, **shown}),
        )
