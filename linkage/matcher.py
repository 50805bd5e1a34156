"""Probabilistic person matching between any two frames of people (Fellegi–Sunter, via Splink + DuckDB).

Identifiable zone. `match_people` takes two polars frames carrying any of the standard columns
`given_name`, `family_name`, `date_of_birth` (pl.Date), `sex`, `postcode`, `address` plus a unique id
column each, and returns each left record's best candidate on the right with its match probability.
Parameters are estimated from the data: u by seeded random sampling, m by expectation maximisation over
two blocking rules, so nothing is hand-tuned for one dataset. Prediction uses blocking rules that keep the
comparison count bounded (roughly linear in the left size).

A safety rule sits on top of the model: a pair whose dates of birth differ in a way no keying error
explains (not a day/month swap, not one character edited or two adjacent characters transposed) is never
accepted, however strong the other evidence; it goes to clerical review instead.

Nothing here logs or raises with row values; Splink's own logging is kept at ERROR.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from linkage.keys import name_key, postcode_key, sex_key

_log = logging.getLogger(__name__)
_M_FLOOR = 1e-3
STANDARD_COLUMNS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
)
_UID = "unique_id"
_ENTITY = "_entity"
_DOB = "date_of_birth"
# Explainable DOB difference (also used for the post-prediction safety rule): same, day/month swapped,
# or one edit / adjacent transposition on the YYYYMMDD string (a swap may straddle month and day).
_DOB_SWAP = (
    "year(date_of_birth_l) = year(date_of_birth_r) AND day(date_of_birth_l) = month(date_of_birth_r) "
    "AND month(date_of_birth_l) = day(date_of_birth_r)"
)
_DOB_EDIT = (
    "damerau_levenshtein(strftime(date_of_birth_l, '%Y%m%d'), strftime(date_of_birth_r, '%Y%m%d')) <= 1"
)
_DOB_EXPLAINED = f"(date_of_birth_l IS NULL OR date_of_birth_r IS NULL OR date_of_birth_l = date_of_birth_r OR ({_DOB_SWAP}) OR ({_DOB_EDIT}))"
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


def prepare(frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Normalised standard columns (absent ones omitted) plus blocking helpers, with `unique_id` as str.

    Names: upper case, accents and punctuation stripped; postcode 'AA9A 9AA' or null; sex M/F (unknown is
    null, since it is no evidence); address upper case with punctuation collapsed to single spaces.
    """
    cols = set(frame.columns)
    exprs: list[pl.Expr] = [pl.col(id_column).cast(pl.String).alias(_UID)]
    for c in ("given_name", "family_name"):
        if c in cols:
            exprs.append(name_key(pl.col(c)).alias(c))
    if _DOB in cols:
        exprs.append(pl.col(_DOB).cast(pl.Date).alias(_DOB))
    if "sex" in cols:
        exprs.append(sex_key(pl.col("sex")).alias("sex"))
    if "postcode" in cols:
        exprs.append(postcode_key(pl.col("postcode")).alias("postcode"))
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
    if _DOB in out.columns:
        helpers.append(pl.col(_DOB).dt.year().alias("_birth_year"))
    return out.with_columns(helpers)


def _levels(output: str, levels: list[tuple[Any, float | None]]) -> Any:
    """A custom comparison whose levels carry starting m probabilities.

    The starting values are what EM refines; they are also the model when the data are too small for EM
    (tiny frames, or a level never observed), so a small linkage still scores sensibly.
    """
    import splink.comparison_library as cl

    configured = [lvl if m is None else lvl.configure(m_probability=m) for lvl, m in levels]
    return cl.CustomComparison(configured, output_column_name=output)


def _name_comparison(col: str, other: str | None) -> Any:
    """Null, exact (term-frequency adjusted), JW >= 0.92, >= 0.88, swapped with the other name, JW >= 0.7."""
    import splink.comparison_level_library as cll

    levels: list[tuple[Any, float | None]] = [
        (cll.NullLevel(col), None),
        (cll.ExactMatchLevel(col, term_frequency_adjustments=True), 0.85),
        (cll.JaroWinklerLevel(col, 0.92), 0.07),
        (cll.JaroWinklerLevel(col, 0.88), 0.02),
    ]
    if other is not None:
        levels.append(
            (cll.CustomLevel(f"{col}_l = {other}_r", label_for_charts="Swapped with other name"), 0.02)
        )
    levels += [(cll.JaroWinklerLevel(col, 0.7), 0.02), (cll.ElseLevel(), 0.02)]
    return _levels(col, levels)


def _dob_comparison() -> Any:
    import splink.comparison_level_library as cll

    within_year = "abs(date_diff('day', date_of_birth_l, date_of_birth_r)) <= 366"
    return _levels(
        _DOB,
        [
            (cll.NullLevel(_DOB), None),
            (cll.ExactMatchLevel(_DOB), 0.92),
            (cll.CustomLevel(_DOB_SWAP, label_for_charts="Day and month swapped"), 0.02),
            (cll.CustomLevel(_DOB_EDIT, label_for_charts="One edit or transposition"), 0.04),
            (cll.CustomLevel(within_year, label_for_charts="Within 1 year"), 0.01),
            (cll.ElseLevel(), 0.01),
        ],
    )


def _postcode_comparison() -> Any:
    """Exact, sector, district, area on the normalised 'AA9A 9AA' form (one space before the inward code)."""
    import splink.comparison_level_library as cll

    sector = "left(postcode_l, length(postcode_l) - 2) = left(postcode_r, length(postcode_r) - 2)"
    district = "split_part(postcode_l, ' ', 1) = split_part(postcode_r, ' ', 1)"
    area = "regexp_extract(postcode_l, '^[A-Z]+') = regexp_extract(postcode_r, '^[A-Z]+')"
    return _levels(
        "postcode",
        [
            (cll.NullLevel("postcode"), None),
            (cll.ExactMatchLevel("postcode", term_frequency_adjustments=True), 0.7),
            (cll.CustomLevel(sector, label_for_charts="Same sector"), 0.05),
            (cll.CustomLevel(district, label_for_charts="Same district"), 0.05),
            (cll.CustomLevel(area, label_for_charts="Same area"), 0.05),
            (cll.ElseLevel(), 0.15),
        ],
    )


def _comparisons(columns: set[str]) -> list[Any]:
    import splink.comparison_level_library as cll

    both_names = {"given_name", "family_name"} <= columns
    out: list[Any] = []
    if "given_name" in columns:
        out.append(_name_comparison("given_name", "family_name" if both_names else None))
    if "family_name" in columns:
        out.append(_name_comparison("family_name", "given_name" if both_names else None))
    if _DOB in columns:
        out.append(_dob_comparison())
    if "sex" in columns:
        out.append(
            _levels(
                "sex",
                [(cll.NullLevel("sex"), None), (cll.ExactMatchLevel("sex"), 0.98), (cll.ElseLevel(), 0.02)],
            )
        )
    if "postcode" in columns:
        out.append(_postcode_comparison())
    if "address" in columns:
        out.append(
            _levels(
                "address",
                [
                    (cll.NullLevel("address"), None),
                    (cll.ExactMatchLevel("address"), 0.6),
                    (cll.JaroWinklerLevel("address", 0.9), 0.15),
                    (cll.JaccardLevel("address", 0.6), 0.1),
                    (cll.ElseLevel(), 0.15),
                ],
            )
        )
    return out


def _blocking_rules(columns: set[str]) -> list[Any]:
    """Prediction rules: each bounded (equality on a fairly selective key); only those whose columns exist."""
    from splink import block_on

    candidates: list[tuple[str, ...]] = [
        (_DOB,),
        ("postcode",),
        ("_family3", "_birth_year"),
        ("given_name", "family_name"),
        ("_given3", "_birth_year", "sex"),
        ("address",),
    ]
    return [block_on(*keys) for keys in candidates if set(keys) <= columns]


def _training_rules(columns: set[str]) -> list[Any]:
    """EM rules: one blocking on postcode (frees names and DOB), one on full name (frees postcode and DOB).

    Neither blocks on DOB: when the left side is what exact tracing left behind, agreeing on DOB is
    mostly a coincidence among those records, and EM on such a block learns nonsense.
    """
    from splink import block_on

    options = (
        ("postcode",),
        ("given_name", "family_name"),
        ("address",),
        ("_family3", "_birth_year"),
        (_DOB,),
    )
    return [block_on(*keys) for keys in options if set(keys) <= columns][:2]


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
    Output ids keep the caller's column names (`left_id`, `right_id`, plus `right_entity` if given).
    """
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
    shared = sorted(set(lprep.columns) & set(rprep.columns))
    lprep, rprep = lprep.select(shared), rprep.select(shared)
    columns = set(shared) - {_UID}
    if not {c for c in columns if not c.startswith("_")}:
        raise ValueError("the two frames share no standard column to compare")
    ids_left = left.select(pl.col(left_id).cast(pl.String).alias(_UID), pl.col(left_id))
    ids_right = right.select(
        pl.col(right_id).cast(pl.String).alias(_UID), pl.col(right_id), pl.col(entity).alias(_ENTITY)
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

    floor = min(lo, threshold)
    with _seeded_table_names(training_seed), contextlib.closing(duckdb.connect()) as con:
        con.execute("SET python_enable_replacements = false")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        scored = _splink_scores(
            con,
            lprep,
            rprep,
            link_rate=link_rate,
            seed=training_seed,
            max_pairs=max_pairs,
            floor=floor,
            m_shrinkage=m_shrinkage,
        )

    scored = (
        scored.join(ids_left.rename({_UID: "_uid_l"}), left_on="unique_id_l", right_on="_uid_l")
        .join(ids_right.rename({_UID: "_uid_r"}), left_on="unique_id_r", right_on="_uid_r")
        .drop("unique_id_l", "unique_id_r")
    )
    if blocked_pairs is not None and blocked_pairs.height:
        blocked = blocked_pairs.select(
            pl.col(left_id).cast(left.schema[left_id]),
            pl.col(entity).cast(right.schema[entity]).alias(_ENTITY),
        )
        scored = scored.join(blocked, on=[left_id, _ENTITY], how="anti")
    return _decide(scored, ids_left.select(left_id), left_id, right_id, right_entity, threshold, lo)


def _splink_scores(
    con: duckdb.DuckDBPyConnection,
    lprep: pl.DataFrame,
    rprep: pl.DataFrame,
    *,
    link_rate: float | None,
    seed: int,
    max_pairs: float,
    floor: float,
    m_shrinkage: float,
) -> pl.DataFrame:
    """Train the Fellegi–Sunter model on the two prepared frames and score the blocked pairs."""
    from splink import DuckDBAPI, Linker, SettingsCreator

    columns = set(lprep.columns) - {_UID}
    db_api = DuckDBAPI(connection=con)
    df_l = db_api.register(lprep.to_arrow(), dataset_display_name="left_records")
    df_r = db_api.register(rprep.to_arrow(), dataset_display_name="right_records")
    prior = None if link_rate is None else min(max(link_rate / rprep.height, 1e-12), 1.0)
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=_comparisons(columns),
        blocking_rules_to_generate_predictions=_blocking_rules(columns),
        probability_two_random_records_match=prior if prior is not None else 1e-4,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=True,
    )
    linker = Linker([df_l, df_r], settings, log_level=logging.ERROR)
    if prior is None:
        _estimate_prior(linker, columns)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    starting = _m_values(linker)
    for rule in _training_rules(columns):
        _train_em(linker, rule, max_pairs)
    _shrink_m(linker, starting, m_shrinkage)
    predictions = linker.inference.predict(threshold_match_probability=floor if floor > 0 else None)
    return _score_sql(con, predictions.physical_name, has_dob=_DOB in columns)


@contextlib.contextmanager
def _seeded_table_names(seed: int) -> Iterator[None]:
    """Splink names its temporary tables with the global `random`; give it a seeded generator instead.

    Names don't change results, but the project keeps the global generator untouched (and the tests
    forbid it). Restored afterwards; not thread-safe, like Splink's own table cache.
    """
    import splink.internals.misc as splink_misc

    saved = splink_misc.random
    splink_misc.random = random.Random(seed)  # type: ignore[assignment]
    try:
        yield
    finally:
        splink_misc.random = saved


def _train_em(linker: Any, rule: Any, max_pairs: float) -> None:
    """One EM session; on too little data keep the model as it was (the starting m values).

    Splink 5 mutates the linker's core settings while a session runs (it drops the comparisons the rule
    uses and swaps in a blocking-adjusted prior) and does not undo that when EM fails, so restore it.
    """
    from splink.internals.exceptions import EMTrainingException

    snapshot = linker._settings_obj.core_model_settings.copy()
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=max_pairs
        )
    except (ValueError, ZeroDivisionError, EMTrainingException):
        linker._settings_obj.core_model_settings = snapshot
        _log.warning("EM skipped for one training rule (too few pairs to estimate every level)")


def _m_values(linker: Any) -> list[list[float | None]]:
    return [
        [None if lvl.is_null_level else lvl.m_probability for lvl in c.comparison_levels]
        for c in linker._settings_obj.comparisons
    ]


def _shrink_m(linker: Any, starting: list[list[float | None]], weight: float) -> None:
    """Pull EM's m estimates `weight` of the way back to the starting values, and floor them.

    EM on the records exact tracing left behind sees a biased sample (e.g. almost no name typos where
    the postcode agrees, because those were traced exactly), and can drive an m to ~0 — a level that then
    vetoes true matches. Shrinking toward the documented starting values keeps such levels plausible.
    """
    for comparison, start in zip(linker._settings_obj.comparisons, starting, strict=True):
        for level, m0 in zip(comparison.comparison_levels, start, strict=True):
            if level.is_null_level or level.m_probability is None:
                continue
            m = level.m_probability if m0 is None else (1 - weight) * level.m_probability + weight * m0
            level.m_probability = max(m, _M_FLOOR)


def _estimate_prior(linker: Any, columns: set[str]) -> None:
    from splink import block_on

    rules = [
        block_on(*keys)
        for keys in (
            ("given_name", "family_name", _DOB),
            (_DOB, "postcode", "sex"),
            ("given_name", "family_name", "postcode"),
        )
        if set(keys) <= columns
    ]
    if rules:
        try:
            linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
        except Exception:  # no deterministic matches at all: keep the default prior
            _log.warning("could not estimate the match prior; using the default")


def _score_sql(con: duckdb.DuckDBPyConnection, table: str, *, has_dob: bool) -> pl.DataFrame:
    """Scored pairs with the DOB safety flag, computed in SQL independently of the model's levels."""
    explained = _DOB_EXPLAINED if has_dob else "TRUE"
    # `table` is a Splink-generated physical name, never user input.
    q = (
        "SELECT unique_id_l, unique_id_r, match_probability, match_weight, "  # noqa: S608
        f"{explained} AS dob_explained FROM {table}"
    )
    return con.sql(q).pl()


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
    reason = (
        pl.when(above & ~pl.col("dob_explained"))
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
