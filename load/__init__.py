"""load: the pipeline's stages as plain functions, file in and file out (no Dagster here).

The Dagster assets (`pipelines/defs/`) and `phm bench pipeline` both call these, so what is benchmarked
is what runs. Each stage writes its outputs atomically (temp file then rename) so a crash never
leaves half a file for the next stage; the warehouse itself is rebuilt into a new file and swapped in.

Stages, in order (the module that holds each):
1. `load_registers`      (registers)    NDOO + Type 1 opt-outs and non-sharing practices (identifiable zone)
2. `ingest_months`       (ingest)       connectors over (source, month) files -> staged records,
                                        quarantine and ops counts
3. `build_gp_master`     (trace)        the GP demographic master used for tracing
4. `trace_records`       (trace)        every record without a valid NHS number, pooled across sources,
                                        traced once; the rest through the DBS round trip (national_trace)
4b. `cluster_untraced` (cluster)      what tracing left, clustered across sources and months into people
                                        with persistent IDs (kept in the identifiable zone)
5. `build_token_map`     (token_map)    each distinct NHS number tokenised once and put into the vault once
6. `pseudonymise_sources` (pseudonymise) apply the trace, re-check opt-outs, tokenise via the map,
                                        de-identify -> pseudonymised staged records; final
                                        reconciliation per file (reconcile)
7. `publish_warehouse`   (publish)      build the DuckDB warehouse from pseudonymised files and swap it in,
                                        or (in a load) into the load's build file, which `publish_load`
                                        swaps in at the load's end with the cohort tables (all or nothing)
"""

from load.cluster import cluster_untraced
from load.files import landing_months, map_files, staged_months, workers, write_inventory, write_parquet
from load.ingest import MonthOutcome, StageCounts, ingest_month, ingest_months
from load.pseudonymise import LOCAL_IDS, pseudonymise_source, pseudonymise_sources
from load.publish import (
    discard_load,
    load_build,
    publish_load,
    publish_warehouse,
    start_load_build,
    warehouse_as_built,
)
from load.reconcile import books_by_source
from load.registers import Registers, load_registers, read_registers
from load.token_map import build_token_map
from load.trace import TRACE_COLUMNS, NationalTracing, build_gp_master, national_trace, trace_records

__all__ = [
    "LOCAL_IDS",
    "TRACE_COLUMNS",
    "MonthOutcome",
    "NationalTracing",
    "Registers",
    "StageCounts",
    "books_by_source",
    "build_gp_master",
    "build_token_map",
    "cluster_untraced",
    "discard_load",
    "ingest_month",
    "ingest_months",
    "landing_months",
    "load_build",
    "load_registers",
    "map_files",
    "publish_load",
    "national_trace",
    "publish_warehouse",
    "pseudonymise_source",
    "pseudonymise_sources",
    "read_registers",
    "staged_months",
    "start_load_build",
    "trace_records",
    "warehouse_as_built",
    "workers",
    "write_inventory",
    "write_parquet",
]
