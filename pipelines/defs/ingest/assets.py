"""Identifiable zone assets: registers and one monthly-partitioned ingest asset per source.

Each ingest asset runs the source's connector over each requested month. A malformed file fails only
its own partition: the other months load, the failure names the file and the problem, and because
downstream assets then do not run, the published warehouse is left as it was. Each partition's
materialisation carries that month's own counts (`dagster/row_count` = rows loaded from its file).
"""

import json
import uuid
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

import load
from connectors.landing import Entry, delivered_months, inventory
from connectors.spec import EXTRACTS, Extract
from core.disclosure import safe_counts
from pipelines.catalog import owned
from pipelines.keys import REGISTERS_KEY, ingest_key
from pipelines.partitions import RANGE_END, RANGE_START, SKIP_TAG, extract_months
from pipelines.resources import PhmPaths


@dg.asset(
    key=REGISTERS_KEY,
    group_name="registers",
    kinds={"polars", "parquet"},
    description="National Data Opt-out and Type 1 (GP) opt-outs, and practices not sharing GP data.",
    **owned("identifiable"),
)
def opt_out_register(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    registers = load.load_registers(paths.landing, home)
    entries = landing_inventory(paths.landing, context.run.tags)
    load.write_inventory(home, entries)
    return dg.MaterializeResult(
        metadata={
            "ndoo_people": len(registers.opt_outs.ndoo),
            "type1_people": len(registers.opt_outs.type1),
            "non_sharing_practices": len(registers.non_sharing),
            "landing_entries": len(entries),
            "landing_not_loaded": sum(e.unloaded for e in entries),
        }
    )


def landing_inventory(landing: Path, tags: Mapping[str, str]) -> list[Entry]:
    """The inventory of landing for a run: its months from the range tags, its acknowledged skips."""
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    months = None
    if start and end:
        months = [m for m in delivered_months(landing) if start <= m <= end]
    skip = json.loads(tags.get(SKIP_TAG, "[]"))
    if skip == ["*"]:
        skip = [e.path for e in inventory(landing, months) if e.unloaded]
    return inventory(landing, months, skip)


def _ingest_asset(extract: Extract) -> dg.AssetsDefinition:
    @dg.asset(
        key=ingest_key(extract.source),
        deps=[REGISTERS_KEY],
        partitions_def=extract_months,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"csv", "parquet"},
        description=f"{extract.setting.capitalize()}: {extract.modelled_on}. {extract.description}",
        metadata={"landing_path": f"landing/{extract.source}/{extract.source}_<YYYY-MM>[_v<N>].csv[.gz]"},
        **owned("identifiable"),
    )
    def ingest(context: dg.AssetExecutionContext, paths: PhmPaths) -> dg.MaterializeResult:
        home = paths.installation()
        registers = load.read_registers(paths.landing, home)  # as the registers asset loaded them
        load_id = f"{context.run_id[:8]}-{uuid.uuid4().hex[:6]}"
        failures: list[str] = []
        rows: list[str] = [
            "| month | loaded | quarantined | excluded |",
            "|---|---|---|---|",
        ]
        months = list(context.partition_keys)
        outcomes = load.ingest_months(
            [(extract.source, m) for m in months], paths.landing, home, registers, load_id
        )
        for outcome in outcomes:
            month, counts = outcome.month, outcome.counts
            if outcome.error is not None:
                failures.append(f"{month}: {outcome.error}")
                context.log.error(f"partition {month} failed: {outcome.error}")
                continue
            if counts is None:
                rows.append(f"| {month} | no file | | |")
                context.add_asset_metadata({"dagster/row_count": 0, "file": "absent"}, partition_key=month)
                continue
            # The counts leave the warehouse: 1-7 as "*", others to 5. Not rows in or opted out: rows in
            # less the records gives the file's opt-outs, published only as opt_out_summary has them.
            shown = safe_counts(
                {k: v for k, v in counts.as_dict().items() if k in ("loaded", "quarantined", "excluded")}
            )
            rows.append(f"| {month} | {shown['loaded']} | {shown['quarantined']} | {shown['excluded']} |")
            context.add_asset_metadata({"dagster/row_count": shown["loaded"], **shown}, partition_key=month)
        if failures:
            raise dg.Failure(
                description=f"{len(failures)} of {len(context.partition_keys)} partition(s) of "
                f"{extract.source} failed; the published warehouse is unchanged.\n" + "\n".join(failures),
                allow_retries=False,
            )
        # Shared by every partition of the run; each partition's own counts were added above.
        return dg.MaterializeResult(
            metadata={
                "months": ", ".join(context.partition_keys),
                "load_id": load_id,
                "by_month": dg.MetadataValue.md("\n".join(rows)),
            }
        )

    return ingest


ingest_assets = [_ingest_asset(e) for e in EXTRACTS.values()]
