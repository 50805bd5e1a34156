"""Persistent cluster IDs for the unmatched: one ID per person, stable across refreshes (identifiable).

The membership (record key -> cluster ID, and the generation the ID was first issued in) is kept in
the identifiable zone between runs. Each run's clusters inherit IDs from it:

- a cluster whose records were all in one earlier cluster keeps that cluster's ID, so a new record
  joining an existing cluster takes its ID;
- every earlier ID has one heir: the new cluster holding most of its records (ties: the cluster whose
  smallest record key sorts first);
- a cluster that is heir to several earlier IDs keeps the oldest (lowest generation, then the smallest
  ID) and the others are recorded as merged into it;
- the parts of an earlier cluster that are not its heir are recorded as split from it, and take an
  ID they are heir to, or a new one;
- a new ID is 'C' + 32 hex of SHA-256 over the cluster's sorted record keys: the same records, the
  same ID, on any machine.

Merges and splits are returned as `changes` for the clerical review queue, where a person confirms
them. Nothing here logs or raises with row values.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import polars as pl

RECORD_KEY = "record_key"
CLUSTER_ID = "cluster_id"
GENERATION = "generation"
MEMBERSHIP_SCHEMA = pl.Schema({RECORD_KEY: pl.String, CLUSTER_ID: pl.String, GENERATION: pl.Int64})
CHANGES_SCHEMA = pl.Schema({
    "change_id": pl.String, "change": pl.String, CLUSTER_ID: pl.String, "other_cluster_id": pl.String,
    "cluster_records": pl.Int64, "other_records": pl.Int64, GENERATION: pl.Int64,
})  # fmt: skip


class ClusterIds(NamedTuple):
    membership: pl.DataFrame
    changes: pl.DataFrame


def new_cluster_id(record_keys: list[str], salt: str = "") -> str:
    """'C' + 32 hex characters of SHA-256 over the sorted record keys (unit separator between), and a
    salt only when the unsalted ID was issued before (a part split off with an old cluster's records)."""
    text = "\x1f".join(sorted(record_keys)) + (f"\x1e{salt}" if salt else "")
    return "C" + hashlib.sha256(text.encode()).hexdigest()[:32]


def change_id(change: str, cluster_id: str, other: str) -> str:
    """16 hex characters naming one merge or split, stable across reruns of the queue."""
    return hashlib.sha256(f"{change}\x1f{cluster_id}\x1f{other}".encode()).hexdigest()[:16]


def assign_ids(clusters: pl.DataFrame, previous: pl.DataFrame) -> ClusterIds:
    """IDs for `clusters` (record_key, component) given the `previous` membership (MEMBERSHIP_SCHEMA).

    `component` names each cluster by any one value shared by its records (e.g. its smallest key).
    Returns the new membership (sorted by record key) and the merges and splits (CHANGES_SCHEMA).
    """
    generation = int(previous.get_column(GENERATION).cast(pl.Int64).max() or 0) + 1  # type: ignore[arg-type]
    prev = previous.select(RECORD_KEY, pl.col(CLUSTER_ID).alias("_prev"), pl.col(GENERATION).alias("_gen"))
    sizes = clusters.group_by("component").agg(
        pl.len().alias("_size"), pl.col(RECORD_KEY).min().alias("_min")
    )
    overlap = (
        clusters.join(prev, on=RECORD_KEY, how="inner")
        .group_by("component", "_prev", "_gen")
        .agg(pl.len().alias("_n"))
        .join(sizes, on="component")
    )
    heirs = overlap.sort(["_prev", "_n", "_min"], descending=[False, True, False]).unique(
        subset="_prev", keep="first", maintain_order=True
    )
    ranked = heirs.sort("component", "_gen", "_prev").with_columns(
        pl.col("_prev").first().over("component").alias("_kept"),
        pl.col("_gen").first().over("component").alias("_kept_gen"),
    )
    kept = ranked.unique(subset="component", keep="first", maintain_order=True).select(
        "component", pl.col("_kept").alias(CLUSTER_ID), pl.col("_kept_gen").alias(GENERATION)
    )
    issued = set(previous.get_column(CLUSTER_ID).to_list())

    def fresh_id(keys: pl.Series) -> str:
        plain = new_cluster_id(keys.to_list())
        return plain if plain not in issued else new_cluster_id(keys.to_list(), salt=str(generation))

    fresh = (
        clusters.join(kept.select("component"), on="component", how="anti")
        .group_by("component")
        .agg(pl.col(RECORD_KEY))
        .select(
            "component",
            pl.col(RECORD_KEY).map_elements(fresh_id, return_dtype=pl.String).alias(CLUSTER_ID),
            pl.lit(generation, pl.Int64).alias(GENERATION),
        )
    )
    ids = pl.concat([kept, fresh], how="vertical_relaxed")
    membership = (
        clusters.join(ids, on="component", how="left").select(list(MEMBERSHIP_SCHEMA)).cast(MEMBERSHIP_SCHEMA)
    ).sort(RECORD_KEY)  # fmt: skip
    return ClusterIds(membership, _changes(ranked, overlap, ids, sizes, generation))


def _changes(
    ranked: pl.DataFrame, overlap: pl.DataFrame, ids: pl.DataFrame, sizes: pl.DataFrame, generation: int
) -> pl.DataFrame:
    """Merges (an heir's other earlier IDs) and splits (an earlier ID's parts that are not its heir)."""
    merges = ranked.filter(pl.col("_prev") != pl.col("_kept")).select(
        pl.lit("merge").alias("change"),
        pl.col("_kept").alias(CLUSTER_ID),
        pl.col("_prev").alias("other_cluster_id"),
        pl.col("_size").alias("cluster_records"),
        pl.col("_n").alias("other_records"),
    )
    heir_of = ranked.select("_prev", pl.col("component").alias("_heir"))
    splits = (
        overlap.join(heir_of, on="_prev")
        .filter(pl.col("component") != pl.col("_heir"))
        .join(ids.select("component", pl.col(CLUSTER_ID).alias("other_cluster_id")), on="component")
        .join(
            sizes.select(pl.col("component").alias("_heir"), pl.col("_size").alias("_heir_size")), on="_heir"
        )
        .select(
            pl.lit("split").alias("change"),
            pl.col("_prev").alias(CLUSTER_ID),
            "other_cluster_id",
            pl.col("_heir_size").alias("cluster_records"),
            pl.col("_n").alias("other_records"),
        )
    )
    out = pl.concat([merges, splits], how="vertical_relaxed").with_columns(
        pl.lit(generation, pl.Int64).alias(GENERATION)
    )
    out = out.with_columns(
        pl.struct("change", CLUSTER_ID, "other_cluster_id")
        .map_elements(lambda s: change_id(s["change"], s[CLUSTER_ID], s["other_cluster_id"]),
                      return_dtype=pl.String)
        .alias("change_id")
    )  # fmt: skip
    return (
        out.select(list(CHANGES_SCHEMA)).cast(CHANGES_SCHEMA).sort("change", CLUSTER_ID, "other_cluster_id")
    )
