"""Risk of an emergency admission in the next 12 months: train, validate, score and version.

Trained on features as at t - 12 months with the outcome in (t - 12 months, t], applied as at t (the
temporal design, in `cohort.model_window`). A seeded quarter of the training people is held out: every
reported metric (`cohort.model_metrics`) is measured on them, never on the people the model was fitted to.

The default model is a logistic regression with spline terms for age and the activity counts
(`kind="logistic"`); scikit-learn's HistGradientBoostingClassifier (`kind="hgb"`) is the alternative.
On synthetic ICSs of 50k-200k people both calibrate well (slope 0.99-1.00) and the logistic model
discriminates as well or slightly better, trains about three times faster and is easier to explain,
so it is the default (docs/risk_model.md has the figures). Ethnic group is not a model input
(metrics are still reported by it). Nothing here logs or prints row values. The benchmark against the
generator's oracle is `bench.model`.

Small or degenerate data never crashes a load. When the training people hold fewer than
MIN_EVENTS_FOR_METRICS outcomes (or non-outcomes) no model is fitted: the model's `status` is
`not_trained` with the reason, recorded in metadata.json and the model card, and every eligible person
gets a null risk score and tier (no scores, rather than scores nobody could trust; cohorts that need a
tier then have no members). When the model is fitted but its calibration fit cannot be computed, the
metrics say so (`calibration_status`) and the calibration intercept and slope are null.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from cohort.features_sql import LTC_CODELISTS
from cohort.model_metrics import MIN_EVENTS_FOR_METRICS, calibration_table, metrics, subgroup_metrics
from cohort.model_window import (
    OUTCOME,
    TrainingWindow,
    eligible,
)

# The training window's helpers are part of this module's public face (the assets and the benchmark
# call them as `cohort.model.X`); they live in cohort.model_window.
from cohort.model_window import OUTCOME_MONTHS as OUTCOME_MONTHS
from cohort.model_window import latest_date as latest_date
from cohort.model_window import months_before as months_before
from cohort.model_window import training_frame as training_frame
from cohort.tiers import DEFAULT_CUTS, TierCuts, assign_tiers

_log = logging.getLogger(__name__)
VALIDATION_SHARE = 0.25
NOT_TRAINED = "not_trained"
Kind = Literal["hgb", "logistic"]
# BLAS/OpenMP threads while fitting and predicting. One thread: lbfgs on a few dozen columns gains
# little from more, and on a busy 2-CPU machine two spinning threads made training 4x slower (measured).
THREADS = 1

# Model inputs: columns of the features table, plus `male` derived from sex. Ethnic group is left out.
COUNT_INPUTS: tuple[str, ...] = (
    "efi_deficits", "ltc_count", "medications_12m", "medications_6m", "gp_contacts_6m", "gp_contacts_12m",
    "ae_6m", "ae_12m", "emergency_admissions_12m", "elective_admissions_12m", "bed_days_12m",
    "op_appointments_12m", "community_contacts_12m", "mh_contacts_12m", "asc_events_12m",
)  # fmt: skip
FLAG_INPUTS: tuple[str, ...] = (
    "registered", "gp_data_shared", "polypharmacy", "maternity_12m", "asc_involved", "asc_long_term_support",
    *(f"has_{c}" for c in LTC_CODELISTS),
)  # fmt: skip
INPUTS: tuple[str, ...] = ("age", "male", "imd_decile", *COUNT_INPUTS, *FLAG_INPUTS)

HGB_PARAMS: dict[str, Any] = {
    "learning_rate": 0.08,
    "max_iter": 400,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 200,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 20,
}


@dataclass
class RiskModel:
    """A fitted estimator with the inputs it expects, its training window and version."""

    estimator: Any
    kind: str
    inputs: tuple[str, ...]
    window: TrainingWindow
    version: str
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "trained"  # or NOT_TRAINED: too few outcomes to fit (see `reason`)
    reason: str = ""

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        """Predicted probability of the outcome for each row of a features frame (NaN: no model)."""
        if self.estimator is None:
            return np.full(features.height, np.nan)
        with threadpool_limits(limits=THREADS):
            return np.asarray(self.estimator.predict_proba(design_matrix(features, self.inputs))[:, 1])


@dataclass
class Evaluation:
    """Held-out metrics: overall, per subgroup, for the baselines, and a calibration table."""

    overall: dict[str, Any]
    subgroups: pl.DataFrame
    baselines: dict[str, dict[str, Any]]
    calibration: pl.DataFrame
    n_train: int
    n_validation: int


@dataclass
class RunResult:
    """Everything one run produces: the model, its evaluation, and the scored features as at t."""

    model: RiskModel
    evaluation: Evaluation
    features: pl.DataFrame  # FEATURE_COLUMNS as at the score date, risk_score/risk_tier/segment filled
    scores: pl.DataFrame  # person_token, risk_score, risk_tier, risk_rank
    seconds: dict[str, float]


def design_matrix(features: pl.DataFrame, inputs: Sequence[str] = INPUTS) -> np.ndarray:
    """float64 matrix of the model inputs; unknowns (e.g. sex 'U', missing IMD) become NaN."""
    exprs = []
    for name in inputs:
        if name == "male":
            expr = (
                pl.when(pl.col("sex") == "M").then(1.0).when(pl.col("sex") == "F").then(0.0).otherwise(None)
            )
        else:
            expr = pl.col(name).cast(pl.Float64)
        exprs.append(expr.alias(name))
    return features.select(exprs).to_numpy().astype(np.float64)


def _split(tokens: pl.Series, seed: int, share: float = VALIDATION_SHARE) -> np.ndarray:
    """Boolean validation mask: a seeded draw per person in token order (stable for the same people)."""
    order = np.argsort(tokens.to_numpy())
    draws = np.random.default_rng(seed).random(len(tokens))
    mask = np.empty(len(tokens), dtype=bool)
    mask[order] = draws < share
    return mask


# ------------------------------------------------------------------------------------------ fitting


def _log1p_counts(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.log1p(np.nan_to_num(x, nan=0.0)))


def _fill_unknown(x: np.ndarray) -> np.ndarray:
    """Unknown flags and IMD (NaN) -> 0.5: midway, so unknown sits between the known values."""
    return np.asarray(np.nan_to_num(x, nan=0.5))


def _estimator(kind: Kind, seed: int) -> Any:
    # scikit-learn is imported where a model is built, not with the module: the Dagster definitions
    # import this module on every load, and a load too small to train a model need not pay its ~3 s.
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler

    if kind == "hgb":
        return HistGradientBoostingClassifier(random_state=seed, **HGB_PARAMS)
    # Logistic regression with splines on age and log counts (missing values -> 0 after imputation).
    age = [INPUTS.index("age")]
    counts = [INPUTS.index(c) for c in COUNT_INPUTS]
    rest = [i for i in range(len(INPUTS)) if i not in age + counts]
    log1p = FunctionTransformer(_log1p_counts)
    fill = FunctionTransformer(_fill_unknown)
    columns = ColumnTransformer(
        [
            ("age", make_pipeline(fill, SplineTransformer(n_knots=6, degree=3)), age),
            ("counts", make_pipeline(log1p, SplineTransformer(n_knots=4, degree=2)), counts),
            ("rest", fill, rest),
        ]
    )
    return Pipeline(
        [("columns", columns), ("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=2000))]
    )


def _version(kind: str, window: TrainingWindow, x: np.ndarray, y: np.ndarray, seed: int) -> str:
    digest = hashlib.sha256()
    digest.update(
        json.dumps({"kind": kind, "seed": seed, "window": window.to_json()}, sort_keys=True).encode()
    )
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return f"emerg12m-{window.features_as_of:%Y%m%d}-{digest.hexdigest()[:10]}"


def fit(
    x: np.ndarray, y: np.ndarray, window: TrainingWindow, *, kind: Kind = "logistic", seed: int = 0
) -> RiskModel:
    """Fit the outcome model on a design matrix (INPUTS order) and 0/1 outcomes."""
    estimator = _estimator(kind, seed)
    with threadpool_limits(limits=THREADS):
        estimator.fit(x, y.astype(np.int64))
    params = HGB_PARAMS | {"random_state": seed} if kind == "hgb" else {"random_state": seed}
    return RiskModel(estimator, kind, INPUTS, window, _version(kind, window, x, y, seed), params)


def _baselines(
    train: pl.DataFrame, valid: pl.DataFrame, y_train: np.ndarray, y_valid: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Two simple comparators, each a logistic regression fitted on the same training people."""
    specs: dict[str, Callable[[pl.DataFrame], np.ndarray]] = {
        "prior_emergency_admissions": lambda f: f.select(
            [(pl.col("emergency_admissions_12m").clip(0, 4) == k).cast(pl.Float64).alias(f"e{k}") for k in range(1, 5)]
        ).to_numpy(),
        "age_and_condition_count": lambda f: f.select(
            (pl.col("age") / 10).cast(pl.Float64).alias("age"), (pl.col("age") / 10).cast(pl.Float64).pow(2).alias("age2"),
            pl.col("ltc_count").clip(0, 8).cast(pl.Float64),
        ).to_numpy(),
    }  # fmt: skip
    from sklearn.linear_model import LogisticRegression  # lazily, as in `_estimator`
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for name, build in specs.items():
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        with threadpool_limits(limits=THREADS):
            model.fit(build(train), y_train)
            p = model.predict_proba(build(valid))[:, 1]
        out[name] = metrics(y_valid, p)
    return out


def train(
    frame: pl.DataFrame, window: TrainingWindow, *, kind: Kind = "logistic", seed: int = 0
) -> tuple[RiskModel, Evaluation, pl.DataFrame]:
    """Fit on the training share of `frame` (features + y); evaluate on the held-out share.

    Returns the model, its evaluation and the held-out frame with its predictions in `p`.
    """
    mask = _split(frame["person_token"], seed)
    train_part, valid_part = frame.filter(~pl.Series(mask)), frame.filter(pl.Series(mask))
    y_train, y_valid = train_part["y"].to_numpy(), valid_part["y"].to_numpy()
    events = int(np.sum(y_train))
    if min(events, len(y_train) - events) < MIN_EVENTS_FOR_METRICS:
        model = _not_trained(train_part, y_train, window, kind, seed, events)
        # Evaluated as the population rate for everyone (what "no model" predicts): metrics say so.
        p = np.full(valid_part.height, events / len(y_train) if len(y_train) else 0.0)
        baselines: dict[str, dict[str, Any]] = {}
    else:
        model = fit(design_matrix(train_part), y_train, window, kind=kind, seed=seed)
        p = model.predict(valid_part)
        baselines = _baselines(train_part, valid_part, y_train, y_valid)
    scored = valid_part.with_columns(pl.Series("p", p))
    evaluation = Evaluation(
        overall=metrics(y_valid, p),
        subgroups=subgroup_metrics(scored),
        baselines=baselines,
        calibration=calibration_table(y_valid, p),
        n_train=train_part.height,
        n_validation=valid_part.height,
    )
    return model, evaluation, scored


def _not_trained(
    train_part: pl.DataFrame, y: np.ndarray, window: TrainingWindow, kind: Kind, seed: int, events: int
) -> RiskModel:
    x = design_matrix(train_part)
    reason = (
        f"{events} of {len(y)} training people had the outcome; at least {MIN_EVENTS_FOR_METRICS} with "
        f"and {MIN_EVENTS_FOR_METRICS} without it are needed to fit a model"
    )
    _log.warning("risk model not trained: %s; no risk scores this run", reason)
    return RiskModel(None, kind, INPUTS, window, _version(kind, window, x, y, seed), {"random_state": seed},
                     status=NOT_TRAINED, reason=reason)  # fmt: skip


def score(model: RiskModel, features: pl.DataFrame, cuts: TierCuts = DEFAULT_CUTS) -> pl.DataFrame:
    """The scores table: person_token, risk_score, risk_tier, risk_rank for the eligible people."""
    people = eligible(features)
    predicted = pl.Series("risk_score", model.predict(people), pl.Float64).fill_nan(None)  # no model: null
    scores = people.select("person_token").with_columns(predicted)
    return assign_tiers(scores, cuts)


# -------------------------------------------------------------------------------------- artefacts


def metadata(
    model: RiskModel, evaluation: Evaluation, *, created_at: datetime | None = None
) -> dict[str, Any]:
    """The JSON saved beside a model: version, training window, inputs, parameters and metrics."""
    from importlib.metadata import version  # the installed scikit-learn's version, without importing it

    return {
        "version": model.version,
        "outcome": OUTCOME,
        "kind": model.kind,
        "status": getattr(model, "status", "trained"),
        "status_reason": getattr(model, "reason", ""),
        "window": model.window.to_json(),
        "inputs": list(model.inputs),
        "params": model.params,
        "n_train": evaluation.n_train,
        "n_validation": evaluation.n_validation,
        "metrics": evaluation.overall,
        "baselines": evaluation.baselines,
        "sklearn_version": version("scikit-learn"),
        "created_at": created_at.isoformat() if created_at else None,
    }


def save_model(
    model: RiskModel, evaluation: Evaluation, models_dir: Path, *, created_at: datetime | None = None
) -> Path:
    """Write `models_dir/<version>/model.joblib` and `metadata.json`; returns the version folder."""
    folder = models_dir / model.version
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    (folder / "metadata.json").write_text(
        json.dumps(metadata(model, evaluation, created_at=created_at), indent=2, sort_keys=True) + "\n"
    )
    return folder


def load_model(folder: Path) -> RiskModel:
    """Load a model saved by `save_model` (a trusted file: joblib unpickles)."""
    model = joblib.load(folder / "model.joblib")
    if not isinstance(model, RiskModel):
        raise TypeError(f"{folder} does not hold a RiskModel")
    return model
