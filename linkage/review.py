"""Clerical review of uncertain matches, and merges of pseudo-IDs when a later run links a person.

Identifiable zone: the queue shows both records' demographics side by side and the candidate NHS number,
because a reviewer cannot decide without them. The file is written 0600, atomically, and never logged.

Workflow: a run writes pairs in the uncertainty band to a CSV (`write_queue`); a person fills `decision`
('match' or 'no_match'), `reviewer` and `decided_on`; the next run reads it (`read_decisions`) and honours
each decision ahead of the model (`linkage.probabilistic.SplinkPass(decisions=...)`). Rewriting the queue
keeps every row already decided, so one file carries both the open queue and the decisions.

Pairs are keyed on a stable `record_key` (the record's normalised demographics, the same fields as the
demographic pseudo-key in `linkage.trace`) and the candidate NHS number, so a decision survives refreshes
for as long as the record arrives with the same demographics. `pair_id` is a hash of the two.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from core.errors import Refused
from core.files import write_public
from linkage.cluster_ids import change_id
from linkage.trace import NHS_NUMBER, PSEUDO_KEY_FIELDS, pseudo_keys

RECORD_KEY = "record_key"
DECISIONS = ("match", "no_match")
_SIDE_BY_SIDE = ("given_name", "family_name", "date_of_birth", "sex", "postcode")
QUEUE_COLUMNS: tuple[str, ...] = (
    "pair_id",
    RECORD_KEY,
    "candidate_nhs_number",
    "match_probability",
    "reason",
    *(f"{side}_{c}" for c in _SIDE_BY_SIDE for side in ("record", "master")),
    "master_postcode_history",
    "decision",
    "reviewer",
    "decided_on",
)
_DECIDED_SCHEMA = {RECORD_KEY: pl.String, NHS_NUMBER: pl.String, "decision": pl.String}


def record_key(records: pl.DataFrame) -> pl.Expr:
    """Stable key of a record from its normalised demographics: 'dob|sex|postcode|given|family'.

    `records` must already be normalised (as the `unmatched` frame a trace pass receives is).
    """
    fields = [
        (pl.col(c).dt.strftime("%Y-%m-%d") if c == "date_of_birth" else pl.col(c).cast(pl.String)).fill_null(
            ""
        )
        if c in records.columns
        else pl.lit("")
        for c in PSEUDO_KEY_FIELDS
    ]
    return pl.concat_str(fields, separator="|")


def pair_id(key: str, nhs_number: str) -> str:
    """16 hex characters of SHA-256 over the record key and the candidate NHS number."""
    return hashlib.sha256(f"{key}\x1f{nhs_number}".encode()).hexdigest()[:16]


def build_queue(
    pairs: pl.DataFrame, records: pl.DataFrame, master: pl.DataFrame, *, left_id: str
) -> pl.DataFrame:
    """Review rows (QUEUE_COLUMNS) for `pairs` (left_id, nhs_number, match_probability, reason).

    `records` holds `left_id` and the normalised record demographics; `master` the GP master. Pairs are
    deduplicated on pair_id (several records with the same demographics make one review row).
    """
    rec = records.select(
        left_id,
        record_key(records).alias(RECORD_KEY),
        *(pl.col(c).alias(f"record_{c}") for c in _SIDE_BY_SIDE if c in records.columns),
    )
    mas = master.select(
        pl.col(NHS_NUMBER).alias("candidate_nhs_number"),
        *(pl.col(c).alias(f"master_{c}") for c in _SIDE_BY_SIDE if c in master.columns),
        *(
            [pl.col("postcode_history").list.join("; ").alias("master_postcode_history")]
            if "postcode_history" in master.columns
            else []
        ),
    )
    queue = (
        pairs.select(left_id, pl.col(NHS_NUMBER).alias("candidate_nhs_number"), "match_probability", "reason")
        .join(rec, on=left_id, how="inner")
        .join(mas, on="candidate_nhs_number", how="left")
    )
    queue = queue.with_columns(
        pl.struct(RECORD_KEY, "candidate_nhs_number")
        .map_elements(lambda s: pair_id(s[RECORD_KEY], s["candidate_nhs_number"]), return_dtype=pl.String)
        .alias("pair_id"),
        pl.col("match_probability").round(4),
    )
    for c in QUEUE_COLUMNS:
        if c not in queue.columns:
            queue = queue.with_columns(pl.lit(None, pl.String).alias(c))
    return (
        queue.with_columns(pl.col(c).cast(pl.String) for c in QUEUE_COLUMNS if c != "match_probability")
        .sort("pair_id", "match_probability", descending=[False, True])
        .unique(subset="pair_id", keep="first", maintain_order=True)
        .select(QUEUE_COLUMNS)
    )


def write_queue(queue: pl.DataFrame, path: Path, *, decisions: pl.DataFrame | None = None) -> int:
    """Write the review queue CSV (mode 0600, atomic replace); returns the number of open rows.

    Rows already decided — in the existing file at `path` or in `decisions` — are kept as they are and not
    re-queued, so a reviewer's work is never lost by a rerun.
    """
    path = Path(path)
    kept = [d for d in (_read_rows(path) if path.exists() else None, decisions) if d is not None]
    decided = (
        pl.concat([_as_queue_rows(d) for d in kept], how="vertical_relaxed")
        .filter(pl.col("decision").is_not_null())
        .unique(subset="pair_id", keep="last", maintain_order=True)
        if kept
        else pl.DataFrame(schema=dict.fromkeys(QUEUE_COLUMNS, pl.String))
    )
    open_rows = _as_queue_rows(queue).join(decided.select("pair_id"), on="pair_id", how="anti")
    out = pl.concat([decided, open_rows], how="vertical_relaxed").select(QUEUE_COLUMNS)
    write_public(path, out.write_csv, mode=0o600)  # identifiable zone: owner only, from the first byte
    return open_rows.height


def read_decisions(path: Path) -> pl.DataFrame:
    """Decided rows of a review file: pair_id, record_key, nhs_number, decision, reviewer, decided_on.

    `decision` is lower-cased and trimmed; blank rows are skipped. Raises ValueError (with a count, never
    a value) when a decision is neither 'match' nor 'no_match' or a row's pair_id does not fit its keys.
    """
    rows = _read_rows(Path(path)).filter(pl.col("decision").is_not_null())
    bad = rows.filter(~pl.col("decision").is_in(DECISIONS)).height
    if bad:
        raise ValueError(f"{bad} review row(s) have a decision other than 'match' or 'no_match'")
    expected = [pair_id(k, n) for k, n in zip(rows[RECORD_KEY], rows["candidate_nhs_number"], strict=True)]
    mismatched = sum(a != b for a, b in zip(expected, rows["pair_id"], strict=True))
    if mismatched:
        raise ValueError(f"{mismatched} review row(s) were edited in their key columns")
    return rows.select(
        "pair_id",
        RECORD_KEY,
        pl.col("candidate_nhs_number").alias(NHS_NUMBER),
        "decision",
        "reviewer",
        "decided_on",
    )


def decided_pairs(decisions: pl.DataFrame | None) -> pl.DataFrame:
    """(record_key, nhs_number, decision), one row per pair; the last row wins when a pair repeats."""
    if decisions is None or decisions.height == 0:
        return pl.DataFrame(schema=_DECIDED_SCHEMA)
    return (
        decisions.select(RECORD_KEY, NHS_NUMBER, "decision")
        .cast(pl.String)
        .unique(subset=[RECORD_KEY, NHS_NUMBER], keep="last", maintain_order=True)
        .sort(RECORD_KEY, NHS_NUMBER)
    )


def pseudo_id_merges(
    previous_keys: pl.DataFrame | pl.Series,
    traced: pl.DataFrame,
    *,
    namespace: str,
    local_id: str | None = None,
) -> pl.DataFrame:
    """(pseudo_key, nhs_number): people who had a pseudo-ID on an earlier run and now have an NHS number.

    `previous_keys`: the `pseudo_key` values issued before (a Series or a frame with that column).
    `traced`: this run's `linkage.trace` output (original columns plus nhs_number and link_method). Each
    row with an NHS number gets the pseudo_key it would have had if unmatched; where that key was issued
    before, the warehouse should merge the pseudo-ID into the NHS number's token. A key that now maps to
    more than one NHS number is left out (it needs review, not an automatic merge).
    """
    keys = previous_keys if isinstance(previous_keys, pl.Series) else previous_keys.get_column("pseudo_key")
    linked = traced.filter(pl.col(NHS_NUMBER).is_not_null())
    if linked.height == 0:
        return pl.DataFrame(schema={"pseudo_key": pl.String, NHS_NUMBER: pl.String})
    would_be = pseudo_keys(linked.drop("pseudo_key", strict=False), namespace=namespace, local_id=local_id)
    pairs = (
        pl.DataFrame({"pseudo_key": would_be, NHS_NUMBER: linked.get_column(NHS_NUMBER)})
        .filter(pl.col("pseudo_key").is_in(keys.implode()))
        .unique()
    )
    single = (
        pairs.group_by("pseudo_key").agg(pl.col(NHS_NUMBER).n_unique().alias("_n")).filter(pl.col("_n") == 1)
    )
    return pairs.join(single.select("pseudo_key"), on="pseudo_key", how="semi").sort("pseudo_key")


def _read_rows(path: Path) -> pl.DataFrame:
    rows = pl.read_csv(path, schema_overrides=dict.fromkeys(QUEUE_COLUMNS, pl.String), infer_schema=False)
    return _as_queue_rows(rows).with_columns(
        pl.col("decision").str.strip_chars().str.to_lowercase().replace("", None)
    )


def _as_queue_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Any queue-like frame as all-string QUEUE_COLUMNS (decision frames map nhs_number back)."""
    if "candidate_nhs_number" not in frame.columns and NHS_NUMBER in frame.columns:
        frame = frame.rename({NHS_NUMBER: "candidate_nhs_number"})
    return frame.select(
        pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
        for c in QUEUE_COLUMNS
    )


# Merges and splits of the untraced people's clusters (`linkage.cluster_ids`), for a person to confirm.
CLUSTER_DECISIONS = ("confirm", "reject")
CLUSTER_QUEUE_COLUMNS: tuple[str, ...] = (
    "change_id", "change", "cluster_id", "other_cluster_id", "cluster_records", "other_records",
    "generation", "cluster_examples", "other_examples", "decision", "reviewer", "decided_on",
)  # fmt: skip
_EXAMPLES = 3


def write_cluster_queue(
    changes: pl.DataFrame, membership: pl.DataFrame, path: Path, *, previous: pl.DataFrame | None = None
) -> int:
    """Append this run's cluster merges and splits to the cluster review CSV (0600, atomic); returns
    the number of open (undecided) rows.

    Each row shows up to three record keys (the normalised demographics) of each side, from
    `membership` (record_key -> cluster_id) and, for an ID merged away, the `previous` membership: a
    reviewer cannot confirm a merge without them. Rows
    already in the file are kept as they are, decided or not, so a rerun never loses a reviewer's work.
    """
    path = Path(path)
    both = [m.select("cluster_id", RECORD_KEY) for m in (membership, previous) if m is not None]
    examples = (
        pl.concat(both)
        .unique()
        .sort("cluster_id", RECORD_KEY)
        .group_by("cluster_id", maintain_order=True)
        .agg(pl.col(RECORD_KEY).head(_EXAMPLES).str.join("; ").alias("_examples"))
    )
    rows = (
        changes.join(examples.rename({"_examples": "cluster_examples"}), on="cluster_id", how="left")
        .join(
            examples.rename({"cluster_id": "other_cluster_id", "_examples": "other_examples"}),
            on="other_cluster_id",
            how="left",
        )
        .select(
            pl.col(c).cast(pl.String) if c in changes.columns or c.endswith("_examples")
            else pl.lit(None, pl.String).alias(c)
            for c in CLUSTER_QUEUE_COLUMNS
        )
    )  # fmt: skip
    old = (
        pl.read_csv(
            path, schema_overrides=dict.fromkeys(CLUSTER_QUEUE_COLUMNS, pl.String), infer_schema=False
        )
        if path.exists()
        else rows.head(0)
    )
    new = rows.join(old.select("change_id"), on="change_id", how="anti")
    out = pl.concat([old.select(CLUSTER_QUEUE_COLUMNS), new], how="vertical_relaxed")
    write_public(path, out.write_csv, mode=0o600)  # identifiable zone: owner only, from the first byte
    return out.filter(pl.col("decision").is_null() | (pl.col("decision").str.strip_chars() == "")).height


def read_cluster_decisions(path: Path) -> pl.DataFrame:
    """Decided rows of the cluster review file: change_id, change, decision, reviewer, decided_on.

    `decision` is trimmed and lower-cased; undecided rows are skipped. Refused (naming the file, with a
    count, never a value) when a decision is neither 'confirm' nor 'reject' or a row's change_id does
    not fit its change and cluster IDs (a key column was edited).
    """
    path = Path(path)
    rows = pl.read_csv(
        path, schema_overrides=dict.fromkeys(CLUSTER_QUEUE_COLUMNS, pl.String), infer_schema=False
    )
    missing = [
        c
        for c in ("change_id", "change", "cluster_id", "other_cluster_id", "decision")
        if c not in rows.columns
    ]
    if missing:
        raise Refused(f"{path}: the cluster review file lacks the column(s) {', '.join(missing)}")
    rows = rows.with_columns(
        pl.col("decision").str.strip_chars().str.to_lowercase().replace("", None)
    ).filter(pl.col("decision").is_not_null())
    bad = rows.filter(~pl.col("decision").is_in(CLUSTER_DECISIONS)).height
    if bad:
        raise Refused(f"{path}: {bad} row(s) have a decision other than 'confirm' or 'reject'")
    expected = [
        change_id(c, a, b) for c, a, b in rows.select("change", "cluster_id", "other_cluster_id").iter_rows()
    ]
    edited = sum(e != got for e, got in zip(expected, rows["change_id"], strict=True))
    if edited:
        raise Refused(f"{path}: {edited} row(s) were edited in their key columns")
    return rows.select(
        "change_id", "change", "decision",
        *(pl.col(c) if c in rows.columns else pl.lit(None, pl.String).alias(c) for c in ("reviewer", "decided_on")),
    ).unique(subset="change_id", keep="last", maintain_order=True)  # fmt: skip
