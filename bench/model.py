"""`phm bench model`: the risk model against the generator's oracle (features + training + scoring timed).

The generator knows each person's true probability of an emergency admission in the final 12 months
(`p_emerg_12m`) and whether one happened; the model, trained as at t - 12 months on the warehouse, is
scored on held-out people against the same realised outcome, so `auroc_ratio` says how close to the best
possible discrimination it gets.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from bench.data import bench_data, bench_home, fit_persons
from bench.pipeline import run_stages
from bench.report import Timer, emit, peak_rss_mb
from bench.truth import truth_frame
from cohort.features_sql import compute_features
from cohort.model import (
    OUTCOME_MONTHS,
    Kind,
    TrainingWindow,
    latest_date,
    metrics,
    months_before,
    score,
    train,
    training_frame,
)
from core.layout import Home
from pseudonymisation import KeyProvider, Tokeniser


def oracle_figures(
    warehouse_path: Path,
    truth: pl.DataFrame,
    *,
    score_date: date | None = None,
    kind: Kind = "logistic",
    seed: int = 0,
) -> dict[str, Any]:
    """Model AUROC against the generator's oracle, on held-out people, plus timings.

    `truth` has person_token, p_true (the generator's probability for the final 12 months) and outcome
    (realised, 0/1); people with a null p_true (not eligible) are ignored. The model is trained as at
    t - 12 months with t = `score_date` (default: the warehouse's last month end), so its outcome
    window is the oracle's window. `auroc` and `oracle_auroc` are measured against the realised truth
    outcome on the same held-out people; `seconds` is features + training + scoring.
    """
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        con.execute("SET python_enable_replacements=false")
        t = score_date or latest_date(con)
        window = TrainingWindow(months_before(t, OUTCOME_MONTHS), t, t)
        start = time.perf_counter()
        frame = training_frame(con, window.features_as_of)
        current = compute_features(con, t)
        t_features = time.perf_counter() - start
        start = time.perf_counter()
        model, evaluation, held_out = train(frame, window, kind=kind, seed=seed)
        t_train = time.perf_counter() - start
        start = time.perf_counter()
        scores = score(model, current)
        t_score = time.perf_counter() - start
    finally:
        con.close()
    truth = truth.filter(pl.col("p_true").is_not_null() & pl.col("outcome").is_not_null())
    joined = held_out.join(truth, on="person_token", how="inner")
    y = joined["outcome"].cast(pl.Float64).to_numpy()
    model_m = metrics(y, joined["p"].to_numpy())
    oracle_m = metrics(y, joined["p_true"].to_numpy())
    auroc, oracle = model_m["auroc"], oracle_m["auroc"]
    return {
        "stage": "model",
        "auroc": _round(auroc),
        "oracle_auroc": _round(oracle),
        "auroc_ratio": _round(auroc / oracle) if auroc and oracle else None,
        "calibration_slope": _round(model_m["calibration_slope"]),
        "calibration_intercept": _round(model_m["calibration_intercept"]),
        "average_precision": _round(model_m["average_precision"]),
        "brier": _round(model_m["brier"]),
        "oracle_calibration_slope": _round(oracle_m["calibration_slope"]),
        "warehouse_outcome_auroc": _round(evaluation.overall["auroc"]),
        "warehouse_outcome_calibration_slope": _round(evaluation.overall["calibration_slope"]),
        "evaluated": joined.height,
        "evaluated_events": model_m["events"],
        "trained": evaluation.n_train,
        "scored": scores.height,
        "persons_in_truth": truth.height,
        "features_as_of": window.features_as_of.isoformat(),
        "score_date": t.isoformat(),
        "model_version": model.version,
        "seconds": round(t_features + t_train + t_score, 2),
        "seconds_per_stage": {
            "features": round(t_features, 2),
            "train": round(t_train, 2),
            "score": round(t_score, 2),
        },  # fmt: skip
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def bench_model(*, persons: int, seed: int, months: int) -> None:
    """Risk model vs the generator's oracle (features + training + scoring timed; the load is not)."""
    requested, persons = persons, fit_persons(persons, months)
    data = bench_data(persons, seed, months)
    home = Home(bench_home(persons, seed, months))
    if not home.warehouse.exists():
        run_stages(data / "landing", home.root, Timer(), quality_checks=False)
    tokeniser = Tokeniser(KeyProvider.dev(home.keys).token_key(), domain="warehouse")
    figures = oracle_figures(home.warehouse, truth_frame(data / "truth", tokeniser.tokenise))
    emit({
        "stage": "model", "persons": persons, "persons_requested": requested, "seed": seed, **figures,
        "peak_rss_mb": peak_rss_mb(),
    })  # fmt: skip
