"""Probabilistic person matching between any two frames of people (Fellegi–Sunter, via Splink + DuckDB).

Identifiable zone. `match_people` takes two polars frames carrying any of the standard columns
`given_name`, `family_name`, `date_of_birth` (pl.Date), `sex`, `postcode`, `address` plus a unique id
column each, and returns each left record's best candidate on the right with its match probability.
Parameters are estimated from the data: u by seeded random sampling, m by expectation maximisation over
two blocking rules, so nothing is hand-tuned for one dataset. Prediction uses blocking rules that keep the
comparison count bounded (roughly linear in the left size).

A safety rule sits on top of the model: a pair whose dates of birth differ in a way no keying error
explains (not a day/month swap, not one character edited or two adjacent characters transposed) needs
`UNEXPLAINED_DOB_MARGIN` more match weight than the threshold's; short of it, it goes to clerical review.

The model is defined in `linkage.match_model` and fitted in `linkage.match_training`; this module
prepares the frames and decides. Nothing here logs or raises with row values.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from connectors.normalise import blank_to_null
from linkage.backends import check_backend
from linkage.keys import name_key, postcode_key, sex_key, text_postcode_key
from linkage.match_model import DOB, UID
from linkage.match_training import splink_scores
from linkage.thresholds import ThresholdPolicy, Thresholds, choose_thresholds

STANDARD_COLUMNS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
)
_ENTITY = "_entity"
# Extra match weight (log2 odds) a pair whose dates of birth differ in a way no keying error explains
# needs on top of the threshold's: 2**3, eight times the evidence. The narrowest that cost no precision
# on the tuned, unseen and FEBRL 4 benchmarks; none at all let in false links (docs/matching.md).
UNEXPLAINED_DOB_MARGIN = 3.0


def threshold_weight(threshold: float) -> float:
    """The match weight (log2 odds) at which the match probability equals `threshold`."""
    return math.inf if threshold >= 1.0 else math.log2(threshold / (1.0 - threshold))


RESULT_SCHEMA = {
    "match_probability": pl.Float64,
    "match_weight": pl.Float64,
    "accepted": pl.Boolean,
    "reason": pl.String,
}


@dataclass(frozen=True)
class MatchResult:
    """`best`: one row per left record (left id, right id or null, probability, weight, accepted, reason).

    `review`: candidate pairs for clerical review (left id, right id, probability, weight, reason), at most
    three per left record that was not accepted: pairs in the review band, pairs above the threshold that
    were ambiguous (another right entity also above it) and pairs above the threshold refused by the DOB
    safety rule. `pairs_scored` counts the blocked comparisons the model scored.
    `reason` is 'accepted', 'band', 'ambiguous', 'dob_unexplained', 'below_band' or 'no_candidate'.
    """

    best: pl.DataFrame
    review: pl.DataFrame
    pairs_scored: int
    thresholds: Thresholds | None = None  # when chosen from the model (`match_people(thresholds=...)`)
    #: The trained model, Splink's own model dictionary (settings with every m and u, no row values):
    #: `splink.Linker(frames, model)` scores the same way again. None when nothing was scored.
    model: dict[str, Any] | None = None


def prepare(frame: pl.DataFrame, id_column: str, *, uk_postcodes: bool = True) -> pl.DataFrame:
    """Normalised standard columns (absent ones omitted) plus blocking helpers, with `unique_id` as str.

    Names: upper case, accents and punctuation stripped; postcode 'AA9A 9AA' or null (`uk_postcodes`
    False: any postcode, letters and digits only, see `uk_postcodes`); sex M/F (unknown is null, since it
    is no evidence); address upper case with punctuation collapsed to single spaces.
    """
    cols = set(frame.columns)
    exprs: list[pl.Expr] = [pl.col(id_column).cast(pl.String).alias(UID)]
    for c in ("given_name", "family_name"):
        if c in cols:
            exprs.append(name_key(pl.col(c)).alias(c))
    if DOB in cols:
        exprs.append(_date_of_birth(pl.col(DOB), frame.schema[DOB]).alias(DOB))
    if "sex" in cols:
        exprs.append(sex_key(pl.col("sex")).alias("sex"))
    if "postcode" in cols:
        key = postcode_key(pl.col("postcode")) if uk_postcodes else text_postcode_key(pl.col("postcode"))
        exprs.append(key.alias("postcode"))
    if "address" in cols:
        addr = (
            pl.col("address").cast(pl.String).str.normalize("NFKD").str.to_uppercase()
            .str.replace_all(r"[^A-Z0-9]+", " ").str.strip_chars()
        )  # fmt: skip
        exprs.append(pl.when(addr.str.len_chars() > 0).then(addr).otherwise(None).alias("address"))
    out = frame.select(exprs)
    helpers: list[pl.Expr] = []
    if "family_name" in out.columns:
        helpers.append(pl.col("family_name").str.slice(0, 3).alias("_family3"))
    if "given_name" in out.columns:
        helpers.append(pl.col("given_name").str.slice(0, 3).alias("_given3"))
    if DOB in out.columns:
        helpers += [
            pl.col(DOB).dt.year().alias("_birth_year"),
            (pl.col(DOB).dt.year() // 10).alias("_birth_year_decade"),
            pl.col(DOB).dt.strftime("%m%d").alias("_dob_md"),
        ]
    if "postcode" in out.columns:
        helpers.append(pl.col("postcode").str.split(" ").list.first().alias("_district"))
    if "address" in out.columns:
        # The last word of at least four letters: the town or suburb, which survives a mistyped street.
        helpers.append(pl.col("address").str.extract_all(r"[A-Z]{4,}").list.last().alias("_address_town"))
    return out.with_columns(helpers)


# Text dates of birth are read in these forms, first match wins: ISO, compact (as FEBRL and many
# registers write them), then UK day-first. A value in none of them is no evidence (null), not an error.
_DOB_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y")


def _date_of_birth(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The date of birth as pl.Date from a date, datetime, 'YYYY-MM-DD' / 'YYYYMMDD' / 'DD/MM/YYYY'
    text or a YYYYMMDD integer; anything unreadable is null (never a guess, never an error)."""
    if dtype.is_temporal():
        return expr.cast(pl.Date)
    text = expr.cast(pl.String).str.strip_chars()
    return pl.coalesce([text.str.to_date(f, strict=False) for f in _DOB_FORMATS])


def uk_postcodes(frames: Sequence[pl.DataFrame], prepared: Sequence[pl.DataFrame]) -> bool:
    """Whether the frames' postcodes are UK postcodes: at least half of the non-blank values well formed.

    A UK extract's malformed postcode ('LS1', 'AB1- 2CD') is no evidence and becomes null, as in
    tracing. But `match_people` is public and links any two files: where most postcodes are not UK ones
    (a four-digit Australian or five-digit US code), nulling them all would throw the field away, so
    they are compared as plain text instead (exact or not; Splink's sector/district/area levels need
    the UK form and do not apply). Decided over all the frames together, so every side gets the same key.

    `prepared`: the same frames through `prepare` with UK keys, whose non-null postcodes are exactly the
    well-formed ones, so no postcode is normalised twice (the GP master is over a million rows).
    """
    given = sum(
        f.select(blank_to_null(pl.col("postcode").cast(pl.String)).count()).item()
        for f in frames
        if "postcode" in f.columns
    )
    well_formed = sum(p.get_column("postcode").count() for p in prepared if "postcode" in p.columns)
    return given == 0 or well_formed >= 0.5 * given


def match_people(
    left: pl.DataFrame,
    right: pl.DataFrame,
    *,
    left_id: str,
    right_id: str,
    threshold: float = 0.9,
    review_band: tuple[float, float] = (0.5, 0.9),
    training_seed: int = 42,
    max_pairs: float = 1e6,
    link_rate: float | None = None,
    right_entity: str | None = None,
    blocked_pairs: pl.DataFrame | None = None,
    threads: int | None = None,
    m_shrinkage: float = 0.3,
    backend: str = "duckdb",
    thresholds: ThresholdPolicy | None = None,
) -> MatchResult:
    """Link each `left` record to its best candidate in `right` and say whether to accept it.

    - `threshold`: accept a best pair when its match probability is at least this, it is the only right
      entity at or above the threshold, and its dates of birth agree or differ explainably.
    - `review_band`: (low, high) probabilities sent to clerical review when not accepted.
    - `training_seed`, `max_pairs`: seed and size of the random sample for u, and cap on EM pairs.
    - `link_rate`: expected share of left records with a match on the right; sets the prior
      (`link_rate / len(right)`). None estimates it from deterministic rules (exact name + DOB, etc.).
    - `right_entity`: column grouping several right rows into one person (e.g. one row per known
      postcode); best match and ambiguity are judged per entity. Defaults to `right_id`.
    - `blocked_pairs`: (left id, right entity) pairs a reviewer said are not a match; never returned.
    - `m_shrinkage`: share (0-1) by which EM's m estimates are pulled back toward the documented
      starting values; use more when the left side is a biased residue (e.g. what exact tracing left).
    - `backend`: where Splink runs, 'duckdb' (this process) or 'spark' (`linkage.backends`); the
      settings, training and decision are the same.
    - `thresholds`: a `linkage.thresholds.ThresholdPolicy`: the review band (and, when the policy has a
      precision target, the threshold) is then chosen from the trained model's scores
      (`choose_thresholds`, returned as `MatchResult.thresholds`) instead of the arguments.
    Output ids keep the caller's column names (`left_id`, `right_id`, plus `right_entity` if given).
    """
    check_backend(backend)
    if left_id == right_id or (right_entity is not None and right_entity in (left_id, right_id)):
        raise ValueError("left_id, right_id and right_entity must be distinct column names")
    entity = right_entity or right_id
    for frame, col, side in ((left, left_id, "left"), (right, right_id, "right")):
        if col not in frame.columns:
            raise ValueError(f"{side} frame lacks its id column {col!r}")
        if frame.get_column(col).null_count() or frame.get_column(col).n_unique() != frame.height:
            raise ValueError(f"{side} id column {col!r} must be unique and non-null")
    lo, hi = review_band
    if not 0.0 <= lo <= hi <= 1.0 or not 0.0 < threshold <= 1.0:
        raise ValueError("need 0 <= review_band low <= high <= 1 and 0 < threshold <= 1")

    lprep, rprep = prepare(left, left_id), prepare(right, right_id)
    uk = uk_postcodes((left, right), (lprep, rprep))
    if not uk:  # another country's postcodes (rare): prepared again with them kept as text
        lprep, rprep = (
            prepare(left, left_id, uk_postcodes=False),
            prepare(right, right_id, uk_postcodes=False),
        )
    shared = sorted(set(lprep.columns) & set(rprep.columns))
    lprep, rprep = lprep.select(shared), rprep.select(shared)
    columns = set(shared) - {UID}
    if not {c for c in columns if not c.startswith("_")}:
        raise ValueError("the two frames share no standard column to compare")
    ids_left = left.select(pl.col(left_id).cast(pl.String).alias(UID), pl.col(left_id))
    ids_right = right.select(
        pl.col(right_id).cast(pl.String).alias(UID), pl.col(right_id), pl.col(entity).alias(_ENTITY)
    )
    empty = _empty(left, right, left_id, right_id, right_entity)
    if lprep.height == 0 or rprep.height == 0:
        best = ids_left.select(left_id).with_columns(
            pl.lit(None, right.schema[right_id]).alias(right_id),
            *([pl.lit(None, right.schema[entity]).alias(entity)] if right_entity else []),
            pl.lit(None, pl.Float64).alias("match_probability"),
            pl.lit(None, pl.Float64).alias("match_weight"),
            pl.lit(False).alias("accepted"),
            pl.lit("no_candidate").alias("reason"),
        )
        return MatchResult(best, empty.review, 0)

    floor = min(lo, threshold) if thresholds is None else thresholds.min_review
    with contextlib.closing(duckdb.connect()) as con:
        con.execute("SET python_enable_replacements = false")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        scored, model = splink_scores(
            con,
            lprep,
            rprep,
            link_rate=link_rate,
            seed=training_seed,
            max_pairs=max_pairs,
            floor=floor,
            m_shrinkage=m_shrinkage,
            backend=backend,
            uk_postcodes=uk,
        )

    scored = (
        scored.join(ids_left.rename({UID: "_uid_l"}), left_on="unique_id_l", right_on="_uid_l")
        .join(ids_right.rename({UID: "_uid_r"}), left_on="unique_id_r", right_on="_uid_r")
        .drop("unique_id_l", "unique_id_r")
    )
    if blocked_pairs is not None and blocked_pairs.height:
        blocked = blocked_pairs.select(
            pl.col(left_id).cast(left.schema[left_id]),
            pl.col(entity).cast(right.schema[entity]).alias(_ENTITY),
        )
        scored = scored.join(blocked, on=[left_id, _ENTITY], how="anti")
    chosen = None
    if thresholds is not None:
        best_p = (
            scored.group_by(left_id).agg(pl.col("match_probability").max()).get_column("match_probability")
        )
        chosen = choose_thresholds(best_p, thresholds, threshold)
        threshold, lo = chosen.threshold, chosen.review_band[0]
    result = _decide(scored, ids_left.select(left_id), left_id, right_id, right_entity, threshold, lo)
    return MatchResult(result.best, result.review, result.pairs_scored, chosen, model)


def _decide(
    scored: pl.DataFrame,
    all_left: pl.DataFrame,
    left_id: str,
    right_id: str,
    right_entity: str | None,
    threshold: float,
    lo: float,
) -> MatchResult:
    """Best pair per left record, acceptance (threshold, uniqueness, DOB rule) and the review queue."""
    # One row per (left, entity): its best right row. Ties broken by right id so output is deterministic.
    per_entity = scored.sort(
        [left_id, _ENTITY, "match_weight", right_id], descending=[False, False, True, False]
    ).unique(subset=[left_id, _ENTITY], keep="first", maintain_order=True)
    ranked = per_entity.sort(
        [left_id, "match_weight", right_id], descending=[False, True, False]
    ).with_columns(
        pl.col("match_weight").rank("ordinal", descending=True).over(left_id).alias("_rank"),
        (pl.col("match_probability") >= threshold).sum().over(left_id).alias("_n_above"),
    )
    above = pl.col("match_probability") >= threshold
    # DOB is evidence the model weighs; a date no keying error explains must clear a stricter bar.
    strict = pl.col("match_weight") < threshold_weight(threshold) + UNEXPLAINED_DOB_MARGIN
    reason = (
        pl.when(above & ~pl.col("dob_explained") & strict)
        .then(pl.lit("dob_unexplained"))
        .when(above & (pl.col("_n_above") > 1))
        .then(pl.lit("ambiguous"))
        .when(above)
        .then(pl.lit("accepted"))
        .when(pl.col("match_probability") >= lo)
        .then(pl.lit("band"))
        .otherwise(pl.lit("below_band"))
    )
    ranked = ranked.with_columns(reason.alias("reason"))
    ranked = ranked.with_columns(
        # A left record is accepted only through its top pair; others of an accepted record are moot.
        (pl.col("reason") == "accepted").any().over(left_id).alias("_left_accepted")
    )
    keep = [left_id, right_id, *([_ENTITY] if right_entity else [])]
    cols = [*keep, "match_probability", "match_weight"]
    best = all_left.join(
        ranked.filter(pl.col("_rank") == 1).select(
            *cols, (pl.col("reason") == "accepted").alias("accepted"), "reason"
        ),
        on=left_id,
        how="left",
    ).with_columns(pl.col("accepted").fill_null(False), pl.col("reason").fill_null("no_candidate"))
    review = ranked.filter(
        ~pl.col("_left_accepted")
        & (pl.col("_rank") <= 3)
        & pl.col("reason").is_in(["band", "ambiguous", "dob_unexplained"])
    ).select(*cols, "reason")
    if right_entity:
        best, review = best.rename({_ENTITY: right_entity}), review.rename({_ENTITY: right_entity})
    return MatchResult(
        best.sort(left_id), review.sort(left_id, "match_weight", descending=[False, True]), scored.height
    )


def _empty(
    left: pl.DataFrame, right: pl.DataFrame, left_id: str, right_id: str, right_entity: str | None
) -> MatchResult:
    ids: dict[str, Any] = {left_id: left.schema[left_id], right_id: right.schema[right_id]}
    if right_entity:
        ids[right_entity] = right.schema[right_entity]
    review = pl.DataFrame(
        schema={**ids, "match_probability": pl.Float64, "match_weight": pl.Float64, "reason": pl.String}
    )
    best = pl.DataFrame(schema={**ids, **RESULT_SCHEMA})
    return MatchResult(best, review, 0)


__all__: Sequence[str] = ("MatchResult", "STANDARD_COLUMNS", "match_people", "prepare")
