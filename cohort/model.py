"""Risk of an emergency admission in the next 12 months: train, validate, score and version.

Temporal design (docs/risk_model.md): to score everyone as at date t, the model is trained on features
as at t - 12 months with the outcome "an emergency admission (apc_spell.is_emergency) in
(t - 12 months, t]", then applied to features as at t. Features never look past their own as-of date,
so nothing from the outcome window leaks into training. A seeded quarter of the training people is
held out: every reported metric is measured on them, never on the people the model was fitted to.

The default model is a logistic regression with spline terms for age and the activity counts
(`kind="logistic"`); scikit-learn's HistGradientBoostingClassifier (`kind="hgb"`) is the alternative.
On synthetic ICSs of 50k-200k people both calibrate well (slope 0.99-1.00) and the logistic model
discriminates as well or slightly better, trains about three times faster and is easier to explain,
so it is the default (docs/risk_model.md has the figures). Ethnic group is not a model input
(metrics are still reported by it). Nothing here logs or prints row values. The benchmark against the
generator's oracle is `bench.model`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import joblib
import numpy as np
import polars as pl
import sklearn
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from cohort.features_sql import CODELISTS_DIR, LTC_CODELISTS, compute_features
from cohort.tiers import DEFAULT_CUTS, TierCuts, assign_tiers

OUTCOME = "emergency admission within 12 months"
OUTCOME_MONTHS = 12
VALIDATION_SHARE = 0.25
MIN_EVENTS_FOR_METRICS = 10  # subgroups with fewer events (or non-events) get no metrics
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (18, "0-17"),
    (45, "18-44"),
    (65, "45-64"),
    (75, "65-74"),
    (85, "75-84"),
)
OLDEST_BAND = "85+"
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


@dataclass(frozen=True)
class TrainingWindow:
    """Features as at `features_as_of`; outcome in (`features_as_of`, `outcome_end`]; scored as at `score_date`."""

    features_as_of: date
    outcome_end: date
    score_date: date

    def to_json(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in asdict(self).items()}


@dataclass
class RiskModel:
    """A fitted estimator with the inputs it expects, its training window and version."""

    estimator: Any
    kind: str
    inputs: tuple[str, ...]
    window: TrainingWindow
    version: str
    params: dict[str, Any] = field(default_factory=dict)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        """Predicted probability of the outcome for each row of a features frame."""
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


# ---------------------------------------------------------------------------------------------- data


def months_before(d: date, months: int) -> date:
    """Same day `months` earlier, clipped to the month's end (DuckDB's `d - to_months(n)`)."""
    index = d.year * 12 + d.month - 1 - months
    year, month = divmod(index, 12)
    last = _month_end(year, month + 1)
    return date(year, month + 1, min(d.day, last))


def _month_end(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days


def latest_date(con: duckdb.DuckDBPyConnection) -> date:
    """End of the last month with activity in the warehouse: the default score date."""
    parts = []
    present = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    for table, column in (("apc_spell", "admission_date"), ("ae_attendance", "arrival_date"),
                          ("gp_event", "event_date"), ("op_appointment", "appointment_date")):  # fmt: skip
        if table in present:
            parts.append(f"SELECT max({column}) AS d FROM {table}")  # noqa: S608 (constant identifiers)
    if not parts:
        raise ValueError("the warehouse has no activity tables to date a score from")
    row = con.sql(f"SELECT last_day(max(d)) FROM ({' UNION ALL '.join(parts)})").fetchall()[0]  # noqa: S608
    if row[0] is None:
        raise ValueError("the warehouse has no dated activity")
    return row[0]


def outcomes(con: duckdb.DuckDBPyConnection, after: date, months: int = OUTCOME_MONTHS) -> pl.DataFrame:
    """person_token of everyone with an emergency admission in (after, after + months]."""
    return con.sql(
        "SELECT DISTINCT person_token FROM apc_spell WHERE is_emergency "
        "AND admission_date > $after AND admission_date <= $after + to_months($months)",
        params={"after": after, "months": months},
    ).pl()


def eligible(features: pl.DataFrame) -> pl.DataFrame:
    """People the model is trained on and scores: alive at the as-of date with a known age."""
    return features.filter(
        pl.col("alive").fill_null(False) & pl.col("age").is_not_null() & (pl.col("age") >= 0)
    )


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


# ------------------------------------------------------------------------------------------ metrics


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(p / (1 - p)))


def calibration_fit(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) of the logistic recalibration y ~ a + b * logit(p), by damped Newton-Raphson."""
    x = np.column_stack([np.ones(len(p)), _logit(p)])

    def loglik(beta: np.ndarray) -> float:
        eta = x @ beta
        return float(np.sum(y * eta - np.logaddexp(0, eta)))

    beta = np.array([0.0, 1.0])
    current = loglik(beta)
    for _ in range(100):
        mu = expit(x @ beta)
        w = mu * (1 - mu)
        step = np.linalg.solve((x * w[:, None]).T @ x + 1e-12 * np.eye(2), x.T @ (y - mu))
        for _ in range(40):  # halve the step until the likelihood does not fall
            candidate = loglik(beta + step)
            if candidate >= current - 1e-12:
                break
            step = step / 2
        beta, current = beta + step, candidate
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[0]), float(beta[1])


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """AUROC, average precision, Brier score, calibration intercept/slope, counts and rates."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    events = int(y.sum())
    out: dict[str, Any] = {
        "n": len(y),
        "events": events,
        "observed_rate": float(y.mean()) if len(y) else None,
        "mean_predicted": float(p.mean()) if len(p) else None,
    }
    if min(events, len(y) - events) < MIN_EVENTS_FOR_METRICS:
        return out | {"auroc": None, "average_precision": None, "brier": None,
                      "calibration_intercept": None, "calibration_slope": None}  # fmt: skip
    intercept, slope = calibration_fit(y, p)
    return out | {
        "auroc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
    }


def _age_band() -> pl.Expr:
    age = pl.col("age")
    expr: Any = pl.when(age.is_null()).then(None)
    for upper, label in AGE_BANDS:
        expr = expr.when(age < upper).then(pl.lit(label))
    return expr.otherwise(pl.lit(OLDEST_BAND))


def subgroup_metrics(frame: pl.DataFrame, score_col: str = "p", outcome_col: str = "y") -> pl.DataFrame:
    """Metrics by sex, age band, ethnic group and IMD quintile (1 = most deprived) of a scored frame."""
    groups = frame.with_columns(
        _age_band().alias("age_band"),
        ((pl.col("imd_decile") + 1) // 2).cast(pl.String).alias("imd_quintile"),
    )
    rows = []
    for by in ("sex", "age_band", "ethnic_group", "imd_quintile"):
        for (value,), part in groups.group_by(by, maintain_order=True):
            m = metrics(part[outcome_col].to_numpy(), part[score_col].to_numpy())
            rows.append({"group": by, "value": "unknown" if value is None else str(value), **m})
    return pl.DataFrame(rows).sort("group", "value")


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pl.DataFrame:
    """Observed rate against mean predicted risk by decile of predicted risk (the calibration plot)."""
    frame = pl.DataFrame({"y": y.astype(np.float64), "p": p.astype(np.float64)})
    frame = frame.with_columns(
        ((pl.col("p").rank(method="ordinal") - 1) * bins // frame.height).cast(pl.Int32).alias("bin")
    )
    return (
        frame.group_by("bin")
        .agg(
            pl.len().alias("n"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("y").mean().alias("observed"),
        )
        .sort("bin")
        .with_columns((pl.col("bin") + 1).alias("bin"))
    )


# ------------------------------------------------------------------------------------------ fitting


def _log1p_counts(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.log1p(np.nan_to_num(x, nan=0.0)))


def _fill_unknown(x: np.ndarray) -> np.ndarray:
    """Unknown flags and IMD (NaN) -> 0.5: midway, so unknown sits between the known values."""
    return np.asarray(np.nan_to_num(x, nan=0.5))


def _estimator(kind: Kind, seed: int) -> Any:
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
    out = {}
    for name, build in specs.items():
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        with threadpool_limits(limits=THREADS):
            model.fit(build(train), y_train)
            p = model.predict_proba(build(valid))[:, 1]
        out[name] = metrics(y_valid, p)
    return out


def training_frame(
    con: duckdb.DuckDBPyConnection, features_as_of: date, *, codelists_dir: Path | None = CODELISTS_DIR
) -> pl.DataFrame:
    """Eligible people's features as at `features_as_of` with `y` = emergency admission in the next 12 months."""
    features = eligible(compute_features(con, features_as_of, codelists_dir=codelists_dir))
    events = outcomes(con, features_as_of).with_columns(pl.lit(1, pl.Int8).alias("y"))
    return features.join(events, on="person_token", how="left").with_columns(pl.col("y").fill_null(0))


def train(
    frame: pl.DataFrame, window: TrainingWindow, *, kind: Kind = "logistic", seed: int = 0
) -> tuple[RiskModel, Evaluation, pl.DataFrame]:
    """Fit on the training share of `frame` (features + y); evaluate on the held-out share.

    Returns the model, its evaluation and the held-out frame with its predictions in `p`.
    """
    mask = _split(frame["person_token"], seed)
    train_part, valid_part = frame.filter(~pl.Series(mask)), frame.filter(pl.Series(mask))
    y_train, y_valid = train_part["y"].to_numpy(), valid_part["y"].to_numpy()
    model = fit(design_matrix(train_part), y_train, window, kind=kind, seed=seed)
    p = model.predict(valid_part)
    scored = valid_part.with_columns(pl.Series("p", p))
    evaluation = Evaluation(
        overall=metrics(y_valid, p),
        subgroups=subgroup_metrics(scored),
        baselines=_baselines(train_part, valid_part, y_train, y_valid),
        calibration=calibration_table(y_valid, p),
        n_train=train_part.height,
        n_validation=valid_part.height,
    )
    return model, evaluation, scored


def score(model: RiskModel, features: pl.DataFrame, cuts: TierCuts = DEFAULT_CUTS) -> pl.DataFrame:
    """The scores table: person_token, risk_score, risk_tier, risk_rank for the eligible people."""
    people = eligible(features)
    scores = people.select("person_token").with_columns(pl.Series("risk_score", model.predict(people)))
    return assign_tiers(scores, cuts)


# -------------------------------------------------------------------------------------- artefacts


def metadata(
    model: RiskModel, evaluation: Evaluation, *, created_at: datetime | None = None
) -> dict[str, Any]:
    """The JSON saved beside a model: version, training window, inputs, parameters and metrics."""
    return {
        "version": model.version,
        "outcome": OUTCOME,
        "kind": model.kind,
        "window": model.window.to_json(),
        "inputs": list(model.inputs),
        "params": model.params,
        "n_train": evaluation.n_train,
        "n_validation": evaluation.n_validation,
        "metrics": evaluation.overall,
        "baselines": evaluation.baselines,
        "sklearn_version": sklearn.__version__,
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
