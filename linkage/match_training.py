"""Fit the `linkage.match_model` model with Splink 5 on two prepared frames and score the blocked pairs.

u by seeded random sampling, m by expectation maximisation over the training rules, then each m pulled
back toward its documented starting value. Only Splink's public API is used: where the model must change
outside Splink (undoing a failed EM session, the shrinkage) it is taken as Splink's own model dictionary
(`linker.misc.save_model_to_json`), changed, and a new `Linker` built from it. Splink's
logging is kept at ERROR; nothing here logs or raises with row values.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import duckdb
import polars as pl

from linkage import backends
from linkage.match_model import (
    DOB,
    DOB_EXPLAINED,
    UID,
    WIDE_KEYS,
    WIDE_RULE_PAIRS,
    blocking_rules,
    comparisons,
    prior_keys,
    training_keys,
)

_log = logging.getLogger(__name__)
_M_FLOOR = 1e-3
# The probability Splink uses for a level a training step never observed. Its model dictionary omits
# such values, so they are written back before a new Linker is built from the dictionary.
_NOT_OBSERVED = 1e-6
Model = dict[str, Any]
# Sizes of the two training samples, each capped further by the caller's `max_pairs`. Measured at
# 200,000 x 20,000 and 1,000,000 x 100,000 (docs/matching.md, "Training cost"): EM on about 200,000 of
# each training rule's blocked pairs (Splink's hash sample of records on both sides) gives the same
# precision, recall and F1 as on all of them, where EM on every postcode-blocked pair of a 1,000,000
# master took a minute. u stays at 1,000,000 random pairs: 300,000 gave the same figures on those
# benchmarks but left 4 more of the 20,000-person demo's 4,292 untraceable records unmatched (rare
# agreement levels need the larger sample), for a saving of a few seconds.
U_PAIRS = 1e6
EM_PAIRS = 2e5


def splink_scores(
    con: duckdb.DuckDBPyConnection,
    lprep: pl.DataFrame,
    rprep: pl.DataFrame,
    *,
    link_rate: float | None,
    seed: int,
    max_pairs: float,
    floor: float,
    m_shrinkage: float,
    backend: str = "duckdb",
    uk_postcodes: bool = True,
) -> tuple[pl.DataFrame, Model]:
    """Scored pairs (unique_id_l, unique_id_r, match_probability, match_weight, dob_explained), and the
    trained model as Splink's own model dictionary (what `linker.misc.save_model_to_json` saves: the
    settings with every m and u; no row values), from which a `Linker` scores the same way again.

    `backend` ('duckdb' or 'spark', `linkage.backends`) is where Splink runs; settings are identical.
    `uk_postcodes`: how the frames' postcodes were prepared (`linkage.matcher.uk_postcodes`).
    """
    columns = set(lprep.columns) - {UID}
    with seeded_global_random(seed):
        frames = _register(con, lprep, rprep, backend)
        prior = None if link_rate is None else min(max(link_rate / rprep.height, 1e-12), 1.0)
        settings = _settings(
            columns,
            prior if prior is not None else 1e-4,
            backend,
            narrow=narrow_rules(lprep, rprep),
            uk_postcodes=uk_postcodes,
        )
        linker = _linker(frames, settings, validate=True)
        if prior is None:
            linker = _estimate_prior(linker, frames, columns)
        linker.training.estimate_u_using_random_sampling(max_pairs=min(max_pairs, U_PAIRS), seed=seed)
        starting = _m_values(_model(linker))
        for keys in training_keys(columns):
            linker = _train_em(
                frames, linker, keys, min(max_pairs, EM_PAIRS), _pair_count(lprep, rprep, keys)
            )
        trained = _shrunk(_model(linker), starting, m_shrinkage)
        linker = _linker(frames, trained)
        predictions = linker.inference.predict(threshold_match_probability=floor if floor > 0 else None)
        scores = _score_sql(con, backends.local_table(predictions, con, backend), has_dob=DOB in columns)
        return scores, trained


def dedupe_scores(
    con: duckdb.DuckDBPyConnection,
    prep: pl.DataFrame,
    *,
    seed: int,
    max_pairs: float,
    floor: float,
    m_shrinkage: float,
) -> pl.DataFrame:
    """Scored pairs within one prepared frame (Splink `dedupe_only`), in `splink_scores`' columns.

    The same comparisons, blocking rules, training (prior from the deterministic rules, u by random
    sampling, EM, shrinkage toward the starting m values) as the two-frame linkage, so the records
    tracing left behind are clustered by the model that traced the others.
    """
    columns = set(prep.columns) - {UID}
    with seeded_global_random(seed):
        frames = _register(con, prep, None)
        settings = _settings(columns, 1e-4, link_type="dedupe_only", narrow=narrow_rules(prep, None))
        linker = _linker(frames, settings, validate=True)
        linker = _estimate_prior(linker, frames, columns)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        starting = _m_values(_model(linker))
        for keys in training_keys(columns):
            linker = _train_em(frames, linker, keys, max_pairs, _ordered_pairs_within(prep, keys))
        linker = _linker(frames, _shrunk(_model(linker), starting, m_shrinkage))
        predictions = linker.inference.predict(threshold_match_probability=floor if floor > 0 else None)
        return _score_sql(con, predictions.physical_name, has_dob=DOB in columns)


@contextlib.contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seed the global `random` for the block and put its state back afterwards.

    Splink 5 names its temporary tables with the global generator (in `DuckDBAPI`, in u sampling) and
    takes no generator argument. Names don't change results; seeding makes them reproducible, and the
    restored state leaves the project's global generator exactly as it was (the tests check that).
    Not thread-safe, like Splink's own table cache.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _model(linker: Any) -> Model:
    """The linker's model as Splink's dictionary, with unobserved levels' m and u written out."""
    model: Model = linker.misc.save_model_to_json()
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                level.setdefault("m_probability", _NOT_OBSERVED)
                level.setdefault("u_probability", _NOT_OBSERVED)
    return model


def _m_values(model: Model) -> list[list[float | None]]:
    return [
        [None if lvl.get("is_null_level") else lvl["m_probability"] for lvl in c["comparison_levels"]]
        for c in model["comparisons"]
    ]


def _pair_count(lprep: pl.DataFrame, rprep: pl.DataFrame, keys: Sequence[str]) -> int:
    """Left-right pairs agreeing on every key (nulls agree with nothing), as Splink's `block_on` blocks."""
    sides = [f.drop_nulls(keys).group_by(keys).len(name=n) for f, n in ((lprep, "_nl"), (rprep, "_nr"))]
    joined = sides[0].join(sides[1], on=list(keys), how="inner")
    return int(joined.select((pl.col("_nl") * pl.col("_nr")).sum()).item() or 0)


def _ordered_pairs_within(prep: pl.DataFrame, keys: Sequence[str]) -> int:
    """Ordered pairs of distinct records of one frame agreeing on every key: zero exactly when the rule
    blocks no pair (each unordered pair counted twice)."""
    return _pair_count(prep, prep, keys) - prep.drop_nulls(keys).height


def narrow_rules(lprep: pl.DataFrame, rprep: pl.DataFrame | None) -> bool:
    """Whether the wide prediction rules must also require the same sex (`match_model.blocking_keys`):
    when, counted exactly here before any Splink work, they would block more than `WIDE_RULE_PAIRS`
    pairs (`rprep` None: pairs within `lprep`, each counted once). Small frames, such as the residue a
    load clusters, keep the wider rules and the recall they give; a million-person master does not."""
    columns = set(lprep.columns) & (set(rprep.columns) if rprep is not None else set(lprep.columns))
    pairs = 0
    for keys in WIDE_KEYS:
        if not set(keys) <= columns:
            continue
        if rprep is None:
            pairs += _ordered_pairs_within(lprep, keys) // 2
        else:
            pairs += _pair_count(lprep, rprep, keys)
    return pairs > WIDE_RULE_PAIRS


def blocked_pairs(con: duckdb.DuckDBPyConnection, lprep: pl.DataFrame, rprep: pl.DataFrame) -> pl.DataFrame:
    """Every (unique_id_l, unique_id_r) pair the prediction blocking rules let through, unscored.

    Splink's own `deterministic_link` over the model's blocking rules: what reaches scoring, so
    blocking recall can be measured against truth without the model.
    """
    columns = set(lprep.columns) - {UID}
    with seeded_global_random(0):
        settings = _settings(columns, 1e-4, narrow=narrow_rules(lprep, rprep))
        linker = _linker(_register(con, lprep, rprep), settings, validate=True)
        pairs = linker.inference.deterministic_link()
        q = f"SELECT DISTINCT unique_id_l, unique_id_r FROM {pairs.physical_name}"  # noqa: S608
        return con.sql(q).pl()


def comparison_counts(lprep: pl.DataFrame, rprep: pl.DataFrame) -> pl.DataFrame:
    """Splink's blocking analysis of the prediction rules: marginal and cumulative comparisons per rule."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    columns = set(lprep.columns) - {UID}
    with contextlib.closing(duckdb.connect()) as con, seeded_global_random(0):
        records = count_comparisons_from_blocking_rules(
            _register(con, lprep, rprep),
            blocking_rules=blocking_rules(columns, narrow=narrow_rules(lprep, rprep)),
            link_type="link_only",
            record_sample_proportion=1.0,
        )
        return pl.DataFrame(
            [
                {"rule": r["blocking_rule"], "marginal": r["marginal_comparison_count"],
                 "cumulative": r["cumulative_comparison_count"]}
                for r in records
            ]
        )  # fmt: skip


def _register(
    con: duckdb.DuckDBPyConnection, lprep: pl.DataFrame, rprep: pl.DataFrame | None, backend: str = "duckdb"
) -> list[Any]:
    """The prepared frames as Splink dataframes on `backend` (the one place a db_api is made); one
    frame (`rprep` None) for a deduplication."""
    db_api = backends.db_api(backend, con)
    if rprep is None:
        return [db_api.register(lprep.to_arrow(), dataset_display_name="records")]
    return [
        db_api.register(lprep.to_arrow(), dataset_display_name="left_records"),
        db_api.register(rprep.to_arrow(), dataset_display_name="right_records"),
    ]


def _settings(
    columns: set[str],
    prior: float,
    backend: str = "duckdb",
    link_type: Literal["link_only", "dedupe_only"] = "link_only",
    *,
    narrow: bool = False,
    uk_postcodes: bool = True,
) -> Model:
    """The model's starting settings as Splink's settings dictionary (what `settings_json` saves), in
    the SQL dialect of `backend` (the same comparisons and rules, written for the engine that runs them)."""
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type=link_type,
        comparisons=comparisons(columns, uk_postcodes=uk_postcodes),
        blocking_rules_to_generate_predictions=blocking_rules(columns, narrow=narrow),
        probability_two_random_records_match=prior,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=True,
    )
    return creator.create_settings_dict(sql_dialect_str=backend)


def _linker(frames: list[Any], model: Model, *, validate: bool = False) -> Any:
    """The one place a Linker is built: over `frames`, from a settings or model dictionary.

    Validation runs for the starting settings; a model dictionary of this module's own making (after
    EM, after shrinkage) holds the comparisons the first linker validated, and validating again costs
    about half a second per linker.
    """
    from splink import Linker

    return Linker(frames, copy.deepcopy(model), log_level=logging.ERROR, validate_settings=validate)


def _train_em(frames: list[Any], linker: Any, keys: Sequence[str], max_pairs: float, pairs: int) -> Any:
    """One EM session on `linker`; with too little data keep the model as it was (the starting m values).

    A rule that blocks no pair at all is skipped without asking Splink. A session that fails on too few
    pairs leaves the linker half-changed (Splink drops the comparisons the rule uses while it runs), so
    a linker rebuilt from the model as it was before the session takes its place.
    """
    from splink import block_on

    if pairs == 0:
        _log.warning("EM skipped for one training rule (no pairs to estimate from)")
        return linker
    before = _model(linker)
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*keys), estimate_without_term_frequencies=True, max_pairs=max_pairs
        )
    except (ValueError, ZeroDivisionError):
        _log.warning("EM skipped for one training rule (too few pairs to estimate every level)")
        return _linker(frames, before)
    return linker


def _shrunk(model: Model, starting: list[list[float | None]], weight: float) -> Model:
    """Pull EM's m estimates `weight` of the way back to the starting values, and floor them.

    EM on the records exact tracing left behind sees a biased sample (e.g. almost no name typos where
    the postcode agrees, because those were traced exactly), and can drive an m to ~0 — a level that then
    vetoes true matches. Shrinking toward the documented starting values keeps such levels plausible.
    """
    for comparison, start in zip(model["comparisons"], starting, strict=True):
        for level, m0 in zip(comparison["comparison_levels"], start, strict=True):
            if level.get("is_null_level") or level.get("m_probability") is None:
                continue
            m = level["m_probability"]
            m = m if m0 is None else (1 - weight) * m + weight * m0
            level["m_probability"] = max(m, _M_FLOOR)
    return model


def _estimate_prior(linker: Any, frames: list[Any], columns: set[str]) -> Any:
    """The linker with its match prior estimated from the deterministic rules, kept strictly inside
    (0, 1): on a tiny residue the rules can find no pair (or only pairs), an estimate of 0 or 1 whose
    match weight is infinite and makes prediction fail, so it is clamped to [1e-12, 1 - 1e-12]."""
    from splink import block_on

    rules = [block_on(*keys) for keys in prior_keys(columns)]
    if rules:
        try:
            linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
        except Exception:  # no deterministic matches at all: keep the default prior
            _log.warning("could not estimate the match prior; using the default")
    model = _model(linker)
    prior = float(model.get("probability_two_random_records_match") or 0.0)
    if 0.0 < prior < 1.0:
        return linker
    model["probability_two_random_records_match"] = min(max(prior, _PRIOR_FLOOR), 1.0 - _PRIOR_FLOOR)
    return _linker(frames, model)


_PRIOR_FLOOR = 1e-12


def _score_sql(con: duckdb.DuckDBPyConnection, table: str, *, has_dob: bool) -> pl.DataFrame:
    """Scored pairs with the DOB safety flag, computed in SQL independently of the model's levels."""
    explained = DOB_EXPLAINED if has_dob else "TRUE"
    # `table` is a Splink-generated physical name, never user input.
    q = (
        "SELECT unique_id_l, unique_id_r, match_probability, match_weight, "  # noqa: S608
        f"{explained} AS dob_explained FROM {table}"
    )
    return con.sql(q).pl()
