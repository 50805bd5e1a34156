"""One person for the unmatched: cluster the records tracing could not give an NHS number (identifiable).

Tracing leaves a residue: records of people the GP master does not know, or knows too faintly. Keyed
per source, one such person seen by A&E and by social care, or with a typo one month, would be several
"people". Here the residue of every source and month is pooled and deduplicated with Splink
(`dedupe_only`, the comparisons, blocking rules and training of `linkage.match_model` /
`linkage.match_training`: the model that traced the others), and Splink's connected components
(`splink.clustering.cluster_pairwise_predictions_at_threshold`) turn accepted pairs into clusters.

Many of the unmatched are known elsewhere: someone registered at a practice that does not share GP
data is missing from the GP master, yet their hospital records carry their NHS number. So the residue is
also linked (Splink `link_only`, `splink_scores`) to `anchors`: the demographics of records that do carry
an NHS number the master lacks. A cluster holding anchors of exactly one NHS number is that person, and
its records take the number (`link_method` 'clustered'); one holding anchors of two or more stays a
pseudonymous person, since the evidence cannot say which. Anchors are never compared with each other.

A node is a record's demographic key (`linkage.review.record_key` of the normalised fields, the key the
clerical review queue already uses), never a row position, so membership survives refreshes. A source's
own persistent person id (the council's `la_person_id`) is evidence too: records sharing one are joined
by an edge of probability 1. Each cluster then gets a persistent ID (`linkage.cluster_ids`).

Acceptance follows `linkage.matcher`: at or above `threshold`, and a pair whose dates of birth differ in
a way no keying error explains needs `UNEXPLAINED_DOB_MARGIN` more weight. Nothing here logs or raises
with row values.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import duckdb
import polars as pl

from linkage import cluster_decisions as decided
from linkage.cluster_decisions import ClusterDecisions
from linkage.cluster_ids import MEMBERSHIP_SCHEMA, ClusterIds, assign_ids
from linkage.match_model import UID
from linkage.match_training import dedupe_scores, seeded_global_random, splink_scores
from linkage.matcher import UNEXPLAINED_DOB_MARGIN, prepare, threshold_weight
from linkage.review import RECORD_KEY, record_key

#: Column of the records to cluster holding a namespaced local person id ('asc_cld:<la_person_id>').
LOCAL_KEY = "local_key"
CLUSTER_ID = "cluster_id"
# A pair must be near-certain to join two records into one person: a wrong merge makes two people one
# in every figure, while a missed one only leaves a person counted twice (as before clustering).
DEFAULT_THRESHOLD = 0.99
_EMPTY_KEY = "||||"  # record_key of a record with no demographics at all: never clustered
_ANCHOR = "A\x1f"  # prefix of an anchor node's id (a record key never starts with it)
NHS_NUMBER = "nhs_number"
#: The membership kept between runs: MEMBERSHIP_SCHEMA plus the NHS number a cluster was linked to (or
#: null) and the best match probability of that link.
CLUSTERS_SCHEMA = pl.Schema(
    [*MEMBERSHIP_SCHEMA.items(), (NHS_NUMBER, pl.String()), ("link_confidence", pl.Float64())]
)
_EDGE_SCHEMA = pl.Schema({f"{UID}_l": pl.String, f"{UID}_r": pl.String, "match_probability": pl.Float64})


@dataclass(frozen=True)
class ClusterResult:
    """`membership`: record_key -> cluster_id, generation, nhs_number, link_confidence (CLUSTERS_SCHEMA),
    one row per key, sorted.

    `changes`: the merges and splits against the previous membership (`linkage.cluster_ids.CHANGES_SCHEMA`),
    and `sides` their two sides (`linkage.cluster_decisions.SIDES_SCHEMA`), kept for a reviewer's decision.
    `applied`: what each reviewer decision did on this run (`linkage.cluster_decisions.AUDIT_SCHEMA`).
    `pairs_scored` counts the blocked pairs the model scored; `edges` the pairs accepted (plus local-id
    and decision edges) that connected components ran over.
    """

    membership: pl.DataFrame
    changes: pl.DataFrame
    pairs_scored: int
    edges: int
    sides: pl.DataFrame
    applied: pl.DataFrame

    @property
    def clusters(self) -> int:
        return self.membership.get_column(CLUSTER_ID).n_unique()


def record_keys(records: pl.DataFrame) -> pl.Series:
    """The demographic key of each row of `records` (raw staged columns), in row order.

    Normalised as the matcher normalises (`linkage.matcher.prepare`), so the same person written
    "O'Brien" one month and "OBRIEN" the next has one key. A row with no demographics gets '||||'.
    """
    prepared = prepare(records.with_row_index("_rid"), "_rid")
    return prepared.select(record_key(prepared).alias(RECORD_KEY)).get_column(RECORD_KEY)


def cluster_records(
    records: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    *,
    anchors: pl.DataFrame | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 42,
    max_pairs: float = 1e6,
    m_shrinkage: float = 0.5,
    decisions: ClusterDecisions | None = None,
) -> ClusterResult:
    """Cluster the untraced `records` of every source and month into people with persistent IDs.

    `records`: any of the standard columns (given_name, family_name, date_of_birth, sex, postcode,
    address) and optionally LOCAL_KEY; duplicates are fine. `previous`: the membership an earlier run
    returned (None on the first run). `anchors`: standard columns plus `nhs_number`, records whose
    person is known by number (None: cluster the residue alone). `decisions`: a reviewer's decisions on
    earlier merges and splits (`linkage.cluster_decisions`), held ahead of the model. Same inputs and
    seed: same IDs.
    """
    decisions = decisions or decided.no_decisions()
    keyed = records.with_columns(record_keys(records).alias(RECORD_KEY)).filter(
        pl.col(RECORD_KEY) != _EMPTY_KEY
    )
    nodes = _nodes(keyed)
    anchor_nodes, numbers = _anchor_nodes(anchors, nodes.columns)
    within, pairs = _dedupe_pairs(nodes, threshold, seed, max_pairs, m_shrinkage)
    to_anchor, linked_pairs = _anchor_pairs(nodes, anchor_nodes, threshold, seed, max_pairs, m_shrinkage)
    together = decided.together_edges(decisions, nodes.get_column(UID))
    edges = pl.concat([within, to_anchor, _local_edges(keyed), together], how="vertical_relaxed").unique(
        subset=[f"{UID}_l", f"{UID}_r"], keep="first", maintain_order=True
    )
    all_nodes = pl.concat([nodes.select(UID), anchor_nodes.select(UID)])
    edges = decided.cut(edges, decisions)
    components = _connected(all_nodes, edges, threshold, seed)
    bridged = decided.still_together(components, decisions)
    if bridged.len():  # other records still join two sides kept apart: cut the second side loose
        edges = decided.isolate(edges, bridged)
        components = _connected(all_nodes, edges, threshold, seed)
    residue_components = components.join(
        nodes.select(pl.col(UID).alias(RECORD_KEY)), on=RECORD_KEY, how="semi"
    )
    before = (
        _empty_membership()
        if previous is None
        else decided.restore(previous.select(list(MEMBERSHIP_SCHEMA)).cast(MEMBERSHIP_SCHEMA), decisions)
    )
    ids: ClusterIds = assign_ids(residue_components, before)
    people = _known_people(components, numbers, to_anchor)
    membership = (
        ids.membership.join(residue_components, on=RECORD_KEY, how="left")
        .join(people, on="component", how="left")
        .select(list(CLUSTERS_SCHEMA))
        .cast(CLUSTERS_SCHEMA)
        .sort(RECORD_KEY)
    )
    sides = decided.change_sides(ids.changes, ids.membership, before)
    generation = int(before.get_column("generation").max() or 0) + 1  # type: ignore[arg-type]  # this run's
    audit = decided.applied(decisions, ids.membership, generation)
    return ClusterResult(membership, ids.changes, pairs + linked_pairs, edges.height, sides, audit)


def _anchor_nodes(anchors: pl.DataFrame | None, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Anchor nodes prepared like the residue's (same columns), and their id -> nhs_number.

    One node per record key; a key seen with two NHS numbers is no evidence for either and is left out.
    """
    empty = pl.DataFrame(schema={UID: pl.String, NHS_NUMBER: pl.String})
    if anchors is None or anchors.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in columns}).head(0), empty
    keyed = anchors.with_columns(record_keys(anchors).alias(RECORD_KEY)).filter(
        (pl.col(RECORD_KEY) != _EMPTY_KEY) & pl.col(NHS_NUMBER).is_not_null()
    )
    single = (
        keyed.group_by(RECORD_KEY).agg(pl.col(NHS_NUMBER).n_unique().alias("_n")).filter(pl.col("_n") == 1)
    )
    keyed = keyed.join(single.select(RECORD_KEY), on=RECORD_KEY, how="semi")
    numbers = keyed.select((pl.lit(_ANCHOR) + pl.col(RECORD_KEY)).alias(UID), NHS_NUMBER).unique().sort(UID)
    prepared = _nodes(keyed.drop(NHS_NUMBER)).with_columns((pl.lit(_ANCHOR) + pl.col(UID)).alias(UID))
    missing = [pl.lit(None, pl.String).alias(c) for c in columns if c not in prepared.columns]
    return prepared.with_columns(missing).select(columns), numbers


def _known_people(components: pl.DataFrame, numbers: pl.DataFrame, to_anchor: pl.DataFrame) -> pl.DataFrame:
    """component -> nhs_number, link_confidence for components holding anchors of exactly one number.

    The confidence is the best probability of an edge from the residue to an anchor of the component.
    """
    held = components.join(numbers.rename({UID: RECORD_KEY}), on=RECORD_KEY, how="inner")
    single = held.group_by("component").agg(
        pl.col(NHS_NUMBER).n_unique().alias("_n"), pl.col(NHS_NUMBER).first()
    )
    best = (
        to_anchor.join(components.rename({RECORD_KEY: f"{UID}_l"}), on=f"{UID}_l")
        .group_by("component")
        .agg(pl.col("match_probability").max().alias("link_confidence"))
    )
    return (
        single.filter(pl.col("_n") == 1)
        .select("component", NHS_NUMBER)
        .join(best, on="component", how="left")
    )


def _empty_membership() -> pl.DataFrame:
    return pl.DataFrame(schema=MEMBERSHIP_SCHEMA)


def _nodes(keyed: pl.DataFrame) -> pl.DataFrame:
    """One row per record key: the first record (in key order) of that key, prepared for Splink.

    Records sharing a key share every compared field but the address; the first address in sort order
    stands for them all, so the nodes do not depend on the order the records arrived in.
    """
    columns = [c for c in ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")
               if c in keyed.columns]  # fmt: skip
    first = (
        keyed.select(RECORD_KEY, *columns)
        .sort(RECORD_KEY, *columns, nulls_last=True)
        .unique(subset=RECORD_KEY, keep="first", maintain_order=True)
    )
    return prepare(first, RECORD_KEY)


def _accepted(scored: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Pairs at or above `threshold` whose dates of birth agree or differ explainably, unless the other
    evidence clears the matcher's stricter bar (`UNEXPLAINED_DOB_MARGIN`)."""
    strict = pl.col("match_weight") < threshold_weight(threshold) + UNEXPLAINED_DOB_MARGIN
    accepted = scored.filter(
        (pl.col("match_probability") >= threshold) & ~(~pl.col("dob_explained") & strict)
    )
    return accepted.select(list(_EDGE_SCHEMA)).cast(_EDGE_SCHEMA)


def _dedupe_pairs(
    nodes: pl.DataFrame, threshold: float, seed: int, max_pairs: float, m_shrinkage: float
) -> tuple[pl.DataFrame, int]:
    """Accepted pairs within the residue (unique_id_l, unique_id_r, match_probability), pairs scored."""
    if nodes.height < 2:
        return pl.DataFrame(schema=_EDGE_SCHEMA), 0
    with contextlib.closing(duckdb.connect()) as con:
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = false")
        scored = dedupe_scores(
            con, nodes, seed=seed, max_pairs=max_pairs, floor=threshold, m_shrinkage=m_shrinkage
        )
    return _accepted(scored, threshold), scored.height


def _anchor_pairs(
    nodes: pl.DataFrame,
    anchors: pl.DataFrame,
    threshold: float,
    seed: int,
    max_pairs: float,
    m_shrinkage: float,
) -> tuple[pl.DataFrame, int]:
    """Accepted residue -> anchor pairs (unique_id_l a record key, unique_id_r an anchor), pairs scored."""
    if nodes.height == 0 or anchors.height == 0:
        return pl.DataFrame(schema=_EDGE_SCHEMA), 0
    with contextlib.closing(duckdb.connect()) as con:
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = false")
        scored, _ = splink_scores(
            con, nodes, anchors.select(nodes.columns), link_rate=None, seed=seed, max_pairs=max_pairs,
            floor=threshold, m_shrinkage=m_shrinkage,
        )  # fmt: skip
    return _accepted(scored, threshold), scored.height


def _local_edges(keyed: pl.DataFrame) -> pl.DataFrame:
    """Edges of probability 1 from every record key to the smallest key sharing its local person id."""
    if LOCAL_KEY not in keyed.columns:
        return pl.DataFrame(schema=_EDGE_SCHEMA)
    pairs = keyed.select(LOCAL_KEY, RECORD_KEY).drop_nulls().unique()
    return (
        pairs.with_columns(pl.col(RECORD_KEY).min().over(LOCAL_KEY).alias(f"{UID}_l"))
        .filter(pl.col(RECORD_KEY) != pl.col(f"{UID}_l"))
        .select(f"{UID}_l", pl.col(RECORD_KEY).alias(f"{UID}_r"), pl.lit(1.0).alias("match_probability"))
        .sort(f"{UID}_l", f"{UID}_r")
    )


def _connected(nodes: pl.DataFrame, edges: pl.DataFrame, threshold: float, seed: int) -> pl.DataFrame:
    """(record_key, members' smallest key as `component`) from Splink's connected components."""
    from splink import DuckDBAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    if edges.height == 0:
        return nodes.select(pl.col(UID).alias(RECORD_KEY), pl.col(UID).alias("component"))
    with contextlib.closing(duckdb.connect()) as con, seeded_global_random(seed):
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = false")
        clustered = cluster_pairwise_predictions_at_threshold(
            nodes.to_arrow(),
            edges.to_arrow(),
            DuckDBAPI(connection=con),
            node_id_column_name=UID,
            threshold_match_probability=threshold,
        )
        q = f"SELECT {UID}, cluster_id FROM {clustered.physical_name}"  # noqa: S608 (Splink's own name)
        out = con.sql(q).pl()
    # Splink's cluster_id is one member's id; the smallest member names the component here, so the
    # result does not depend on which member Splink happened to pick.
    return out.select(
        pl.col(UID).alias(RECORD_KEY), pl.col(UID).min().over("cluster_id").alias("component")
    ).sort(RECORD_KEY)
