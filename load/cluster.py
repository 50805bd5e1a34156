"""Stage 4b: cluster the records tracing left without an NHS number into people (identifiable zone).

Runs after tracing (`load.trace.trace_records`) and before pseudonymisation: the untraced rows of every
non-GP source and month are pooled, with a source's persistent local person id where it has one, and
clustered by `linkage.cluster` against the membership the previous load kept (`Home.clusters`, 0600 in
the 0700 identifiable zone). The new membership replaces it; merges and splits go to the cluster review
file (`Home.cluster_review`) for a person to confirm, and their two sides to `Home.cluster_change_sides`.
Decisions a reviewer wrote in that file (`confirm` / `reject`) are held ahead of the model on every later
load (`linkage.cluster_decisions`), and what each did is appended to `Home.cluster_decisions_applied`.
`load.pseudonymise` then gives every record of a cluster the cluster's pseudo-ID.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from connectors.spec import EXTRACTS, GP_SOURCES
from core.files import write_public
from core.layout import Home
from linkage import review
from linkage.cluster import CLUSTERS_SCHEMA, LOCAL_KEY, cluster_records
from linkage.cluster_decisions import AUDIT_SCHEMA, SIDES_SCHEMA, ClusterDecisions, no_decisions
from linkage.trace import LOCAL_ID_COLUMNS
from load.files import staged_months, write_parquet
from load.trace import TRACE_SCHEMA


def _untraced_rows(path: Path, source: str) -> pl.DataFrame:
    """Trace columns (all present) and LOCAL_KEY of the rows of one staged file without an NHS number."""
    scan = pl.scan_parquet(path)
    present = set(scan.collect_schema().names())
    local = next((c for c in LOCAL_ID_COLUMNS if c in present), None)
    local_key = (
        (pl.lit(f"{source}:") + pl.col(local).cast(pl.String).str.strip_chars()).alias(LOCAL_KEY)
        if local
        else pl.lit(None, pl.String).alias(LOCAL_KEY)
    )
    columns = [
        pl.col(c).cast(t) if c in present else pl.lit(None, t).alias(c) for c, t in TRACE_SCHEMA.items()
    ]
    return scan.filter(pl.col("nhs_number").is_null()).select(*columns, local_key).collect()


def residue(home: Home) -> pl.DataFrame:
    """Distinct (trace columns, LOCAL_KEY) of every staged record that tracing left unmatched."""
    frames = [
        _untraced_rows(home.staged(source, month), source)
        for source in EXTRACTS
        if source not in GP_SOURCES
        for month in staged_months(home, source)
    ]
    if not frames:
        return pl.DataFrame(schema={**TRACE_SCHEMA, LOCAL_KEY: pl.String})
    pooled = pl.concat(frames).unique()
    traced = pl.read_parquet(home.trace_results).filter(pl.col("nhs_number").is_not_null())
    left = pooled.join(traced.select(list(TRACE_SCHEMA)), on=list(TRACE_SCHEMA), how="anti", nulls_equal=True)
    return left.sort(pl.all(), nulls_last=True)


def anchors(home: Home) -> pl.DataFrame:
    """Distinct (trace columns, nhs_number) of non-GP records that carry an NHS number the GP master
    lacks: people tracing cannot find (e.g. registered at a non-sharing practice) but whose other
    records say who they are. Numbers the master holds are left out: tracing has already compared the
    residue with those people."""
    master = pl.read_parquet(home.gp_master, columns=["nhs_number"]) if home.gp_master.exists() else None
    frames = []
    for source in EXTRACTS:
        if source in GP_SOURCES:
            continue
        for month in staged_months(home, source):
            scan = pl.scan_parquet(home.staged(source, month))
            present = set(scan.collect_schema().names())
            columns = [
                pl.col(c).cast(t) if c in present else pl.lit(None, t).alias(c)
                for c, t in TRACE_SCHEMA.items()
            ]
            frames.append(
                scan.filter(pl.col("nhs_number").is_not_null()).select(*columns, "nhs_number").collect()
            )
    if not frames:
        return pl.DataFrame(schema={**TRACE_SCHEMA, "nhs_number": pl.String})
    known = pl.concat(frames).unique()
    if master is not None:
        known = known.join(master, on="nhs_number", how="anti")
    return known.sort(pl.all(), nulls_last=True)


def read_membership(home: Home) -> pl.DataFrame | None:
    """The membership the last clustering kept, or None before the first."""
    if not home.clusters.exists():
        return None
    return pl.read_parquet(home.clusters).select(list(CLUSTERS_SCHEMA)).cast(CLUSTERS_SCHEMA)


def read_decisions(home: Home) -> ClusterDecisions:
    """The reviewer's decided rows of the cluster review file and the kept sides of every change."""
    if not home.cluster_review.exists():
        return no_decisions()
    decided = review.read_cluster_decisions(home.cluster_review)
    sides = (
        pl.read_parquet(home.cluster_change_sides).cast(SIDES_SCHEMA)
        if home.cluster_change_sides.exists()
        else pl.DataFrame(schema=SIDES_SCHEMA)
    )
    return ClusterDecisions(decided, sides)


def _keep(home: Home, sides: pl.DataFrame, applied: pl.DataFrame) -> None:
    """Add this run's change sides to the kept ones (a change seen before keeps its first sides), and
    append the audit of the decisions applied (0600 CSV in the identifiable zone)."""
    if sides.height:
        kept = (
            pl.read_parquet(home.cluster_change_sides).cast(SIDES_SCHEMA)
            if home.cluster_change_sides.exists()
            else None
        )
        new = (
            sides
            if kept is None
            else sides.join(kept.select("change_id").unique(), on="change_id", how="anti")
        )
        write_parquet(new if kept is None else pl.concat([kept, new]), home.cluster_change_sides)
    if applied.height:
        path = home.cluster_decisions_applied
        old = (
            pl.read_csv(path, schema_overrides=AUDIT_SCHEMA)
            if path.exists()
            else pl.DataFrame(schema=AUDIT_SCHEMA)
        )
        out = pl.concat([old.cast(AUDIT_SCHEMA), applied.cast(AUDIT_SCHEMA)])
        write_public(path, out.write_csv, mode=0o600)  # identifiable zone: owner only, from the first byte


def cluster_untraced(home: Home, *, seed: int = 42) -> dict[str, int]:
    """Cluster the load's untraced records under the reviewer's decisions; keep the membership; queue
    merges and splits; audit the decisions applied. Counts only."""
    decisions = read_decisions(home)
    records = residue(home)
    previous = read_membership(home)
    known = anchors(home)
    result = cluster_records(records, previous, anchors=known, seed=seed, decisions=decisions)
    write_parquet(result.membership, home.clusters)
    _keep(home, result.sides, result.applied)
    open_rows = review.write_cluster_queue(
        result.changes, result.membership, home.cluster_review, previous=previous
    )
    changes = result.changes.get_column("change")
    return {
        "cluster/records": records.height,
        "cluster/record_keys": result.membership.height,
        "cluster/anchors": known.height,
        "cluster/people": result.clusters,
        "cluster/linked_to_nhs_number": result.membership.filter(pl.col("nhs_number").is_not_null()).height,
        "cluster/merges": int((changes == "merge").sum()),
        "cluster/splits": int((changes == "split").sum()),
        "cluster/review_open": open_rows,
        "cluster/decisions_applied": result.applied.height,
    }
