"""A reviewer's decisions on cluster merges and splits, acted on by the next clustering (identifiable).

`linkage.cluster_ids` records every merge and split of the untraced people's clusters, and the cluster
review file (`linkage.review.write_cluster_queue`) asks a person to `confirm` or `reject` each. A decision
is a constraint on every later clustering, not a one-off edit, so it holds however the evidence moves:

- merge confirmed, split rejected: the two sides are one person (`together_edges`, edges of
  probability 1 between their records, as a shared local person id is);
- merge rejected, split confirmed: the two sides are two people (`cut`: the model's edges between them
  are dropped, and if other records still bridge them, the second side is cut loose from the rest).

Which records a decision is about cannot be read back from the membership once IDs have moved on, so
each change's two sides (record keys, and the cluster ID and generation each side had) are kept when
the change is made (`change_sides`, `Home.cluster_change_sides`). A rejected merge or split also gives
the records back the ID they had before it (`restore`), so the people keep their pseudo-IDs and no new
change is queued for undoing it. `applied` is the audit of what each decision did on this load.
Nothing here logs or raises with row values.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from linkage.cluster_ids import CLUSTER_ID, GENERATION, RECORD_KEY

SIDES_SCHEMA = pl.Schema({
    "change_id": pl.String, "side": pl.String, RECORD_KEY: pl.String, CLUSTER_ID: pl.String,
    GENERATION: pl.Int64,
})  # fmt: skip
DECIDED_SCHEMA = pl.Schema({
    "change_id": pl.String, "change": pl.String, "decision": pl.String, "reviewer": pl.String,
    "decided_on": pl.String,
})  # fmt: skip
#: (change, decision) pairs that make the two sides one person; the other two keep them apart.
TOGETHER = (("merge", "confirm"), ("split", "reject"))
APART = (("merge", "reject"), ("split", "confirm"))
AUDIT_SCHEMA = pl.Schema([
    *DECIDED_SCHEMA.items(), ("applied_generation", pl.Int64()), ("cluster_records", pl.Int64()),
    ("other_records", pl.Int64()), ("outcome", pl.String()),
])  # fmt: skip
_L, _R = "unique_id_l", "unique_id_r"
_EDGE_SCHEMA = pl.Schema({_L: pl.String, _R: pl.String, "match_probability": pl.Float64})


@dataclass(frozen=True)
class ClusterDecisions:
    """`decided`: the decided rows of the review file (DECIDED_SCHEMA); `sides`: every change's two
    sides as kept when it was made (SIDES_SCHEMA). Decided changes without kept sides do nothing."""

    decided: pl.DataFrame
    sides: pl.DataFrame

    def of(self, kinds: tuple[tuple[str, str], ...]) -> pl.DataFrame:
        """The sides of the decided changes of `kinds`, with change and decision; a key on both sides
        of one change is left out (no decision can put a record on both sides)."""
        wanted = self.decided.filter(
            pl.any_horizontal((pl.col("change") == c) & (pl.col("decision") == d) for c, d in kinds)
        )
        sides = self.sides.join(wanted.select("change_id", "change", "decision"), on="change_id")
        both = sides.group_by("change_id", RECORD_KEY).agg(pl.col("side").n_unique().alias("_n"))
        return sides.join(both.filter(pl.col("_n") > 1), on=["change_id", RECORD_KEY], how="anti")


def no_decisions() -> ClusterDecisions:
    return ClusterDecisions(pl.DataFrame(schema=DECIDED_SCHEMA), pl.DataFrame(schema=SIDES_SCHEMA))


def change_sides(changes: pl.DataFrame, membership: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The two sides of each of this run's `changes` (`linkage.cluster_ids.CHANGES_SCHEMA`).

    Merge: `other` = the records the merged-away ID held before (with that ID), `cluster` = the rest of
    the merged cluster. Split: `cluster` = the heir's records (keeping the ID), `other` = the records
    that left it (with the ID they took). `membership` and `previous` are MEMBERSHIP_SCHEMA frames.
    """
    now = membership.select(RECORD_KEY, CLUSTER_ID, GENERATION)
    before = previous.select(RECORD_KEY, CLUSTER_ID, GENERATION)
    frames = []
    for change in ("merge", "split"):
        rows = changes.filter(pl.col("change") == change).select("change_id", CLUSTER_ID, "other_cluster_id")
        if change == "merge":  # held by the merged-away ID before, and by the merged cluster now
            other = rows.join(before.rename({CLUSTER_ID: "other_cluster_id"}), on="other_cluster_id").join(
                now.select(RECORD_KEY, CLUSTER_ID), on=[RECORD_KEY, CLUSTER_ID], how="semi"
            )
        else:  # held by the split-off part now, and by the cluster it left before
            other = rows.join(now.rename({CLUSTER_ID: "other_cluster_id"}), on="other_cluster_id").join(
                before.select(RECORD_KEY, CLUSTER_ID), on=[RECORD_KEY, CLUSTER_ID], how="semi"
            )
        other = other.select(
            "change_id", RECORD_KEY, pl.col("other_cluster_id").alias(CLUSTER_ID), GENERATION
        )
        cluster = (
            rows.join(now, on=CLUSTER_ID)
            .join(other.select("change_id", RECORD_KEY), on=["change_id", RECORD_KEY], how="anti")
            .select("change_id", RECORD_KEY, CLUSTER_ID, GENERATION)
        )
        frames += [cluster.with_columns(side=pl.lit("cluster")), other.with_columns(side=pl.lit("other"))]
    return (
        pl.concat(frames, how="diagonal_relaxed")
        .select(list(SIDES_SCHEMA))
        .cast(SIDES_SCHEMA)
        .sort("change_id", "side", RECORD_KEY)
    )


def restore(previous: pl.DataFrame, decisions: ClusterDecisions) -> pl.DataFrame:
    """`previous` with the IDs a rejected merge or split took away given back: the merged-away side
    takes its own ID again; the part that split off takes the ID of the cluster it left."""
    rejected = decisions.of((("merge", "reject"), ("split", "reject")))
    if rejected.height == 0:
        return previous
    # The ID each side of a change had when the change was made (one per side).
    ids = rejected.group_by("change_id", "side").agg(pl.col(CLUSTER_ID).first(), pl.col(GENERATION).first())
    source_side = pl.when(pl.col("change") == "merge").then(pl.lit("other")).otherwise(pl.lit("cluster"))
    moved = (
        rejected.filter(pl.col("side") == "other")
        .select("change_id", RECORD_KEY, source_side.alias("_from"))
        .join(ids.rename({"side": "_from"}), on=["change_id", "_from"])
        .unique(subset=RECORD_KEY, keep="last", maintain_order=True)
        .select(RECORD_KEY, pl.col(CLUSTER_ID).alias("_id"), pl.col(GENERATION).alias("_gen"))
    )
    return (
        previous.join(moved, on=RECORD_KEY, how="left")
        .with_columns(
            pl.coalesce("_id", CLUSTER_ID).alias(CLUSTER_ID),
            pl.coalesce("_gen", GENERATION).alias(GENERATION),
        )
        .select(previous.columns)
    )


def together_edges(decisions: ClusterDecisions, keys: pl.Series) -> pl.DataFrame:
    """Edges of probability 1 joining the present records (`keys`) of both sides of each confirmed merge
    and rejected split: a star from the change's smallest present key."""
    sides = decisions.of(TOGETHER).filter(pl.col(RECORD_KEY).is_in(keys.implode()))
    return (
        sides.select("change_id", RECORD_KEY)
        .unique()
        .with_columns(pl.col(RECORD_KEY).min().over("change_id").alias(_L))
        .filter(pl.col(RECORD_KEY) != pl.col(_L))
        .select(_L, pl.col(RECORD_KEY).alias(_R), pl.lit(1.0).alias("match_probability"))
        .unique()
        .sort(_L, _R)
        .cast(_EDGE_SCHEMA)
    )


def _apart_pairs(decisions: ClusterDecisions) -> pl.DataFrame:
    """(change_id, cluster-side key, other-side key) of every rejected merge and confirmed split."""
    sides = decisions.of(APART).select("change_id", "side", RECORD_KEY)
    return (
        sides.filter(pl.col("side") == "cluster")
        .select("change_id", pl.col(RECORD_KEY).alias("_a"))
        .join(sides.filter(pl.col("side") == "other").select("change_id", pl.col(RECORD_KEY).alias("_b")),
              on="change_id")
    )  # fmt: skip


def cut(edges: pl.DataFrame, decisions: ClusterDecisions) -> pl.DataFrame:
    """`edges` without any edge straight between the two sides of a change decided as two people."""
    pairs = _apart_pairs(decisions)
    if pairs.height == 0:
        return edges
    both_ways = pl.concat(
        [pairs.select(pl.col("_a").alias(_L), pl.col("_b").alias(_R)),
         pairs.select(pl.col("_b").alias(_L), pl.col("_a").alias(_R))]
    ).unique()  # fmt: skip
    return edges.join(both_ways, on=[_L, _R], how="anti")


def still_together(components: pl.DataFrame, decisions: ClusterDecisions) -> pl.Series:
    """Record keys of the `other` sides of changes decided as two people whose records still share a
    component (`record_key`, `component`) through other records: to be cut loose from the rest."""
    sides = decisions.of(APART).join(components, on=RECORD_KEY)
    bridged = (
        sides.group_by("change_id", "component")
        .agg(pl.col("side").n_unique().alias("_n"))
        .filter(pl.col("_n") > 1)
    )
    other = sides.filter(pl.col("side") == "other").join(bridged, on=["change_id", "component"], how="semi")
    return other.get_column(RECORD_KEY).unique().sort()


def isolate(edges: pl.DataFrame, keys: pl.Series) -> pl.DataFrame:
    """`edges` without any edge between one of `keys` and a record not among them."""
    inside_l, inside_r = pl.col(_L).is_in(keys.implode()), pl.col(_R).is_in(keys.implode())
    return edges.filter(inside_l == inside_r)


def applied(decisions: ClusterDecisions, membership: pl.DataFrame, generation: int) -> pl.DataFrame:
    """The audit of this load: one row per decided change with kept sides, the records of each side
    present now, and the outcome in the new `membership` ('together', 'apart', or 'absent')."""
    sides = decisions.sides.join(decisions.decided.select("change_id"), on="change_id", how="semi")
    now = sides.drop(CLUSTER_ID, GENERATION).join(membership.select(RECORD_KEY, CLUSTER_ID), on=RECORD_KEY)
    per_side = now.group_by("change_id", "side").agg(pl.len().alias("_n"), pl.col(CLUSTER_ID).unique())
    wide = per_side.pivot("side", index="change_id", values=["_n", CLUSTER_ID])
    for col, dtype in (("_n_cluster", pl.UInt32), ("_n_other", pl.UInt32)):
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype).alias(col))
    for col in (f"{CLUSTER_ID}_cluster", f"{CLUSTER_ID}_other"):
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.List(pl.String)).alias(col))
    shared = pl.col(f"{CLUSTER_ID}_cluster").list.set_intersection(pl.col(f"{CLUSTER_ID}_other")).list.len()
    one = (
        pl.col(f"{CLUSTER_ID}_cluster").list.concat(pl.col(f"{CLUSTER_ID}_other")).list.unique().list.len()
        == 1
    )
    outcome = (
        pl.when(pl.col("_n_cluster").is_null() | pl.col("_n_other").is_null()).then(pl.lit("absent"))
        .when(one).then(pl.lit("together"))
        .when(shared == 0).then(pl.lit("apart"))
        .otherwise(pl.lit("partly together"))
    )  # fmt: skip
    return (
        decisions.decided.join(decisions.sides.select("change_id").unique(), on="change_id", how="semi")
        .join(wide.select("change_id", "_n_cluster", "_n_other", outcome.alias("outcome")), on="change_id", how="left")
        .select(
            *DECIDED_SCHEMA,
            pl.lit(generation, pl.Int64).alias("applied_generation"),
            pl.col("_n_cluster").fill_null(0).alias("cluster_records"),
            pl.col("_n_other").fill_null(0).alias("other_records"),
            pl.col("outcome").fill_null("absent"),
        )
        .cast(AUDIT_SCHEMA)
        .sort("change_id")
    )  # fmt: skip
