"""Risk model metrics on held-out people: discrimination, calibration, per subgroup, calibration table.

Plain functions of outcomes `y` (0/1) and predicted probabilities `p`; no model or warehouse needed.
Subgroups with fewer than MIN_EVENTS_FOR_METRICS events (or non-events) get counts but no metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy.special import expit

from core.disclosure import protect_table

MIN_EVENTS_FOR_METRICS = 10  # subgroups with fewer events (or non-events) get no metrics
# Said in the metrics (and so the model card and metadata) when the recalibration fit has no solution.
CALIBRATION_NOT_COMPUTABLE = "not computable (singular or non-finite recalibration fit)"
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (18, "0-17"),
    (45, "18-44"),
    (65, "45-64"),
    (75, "65-74"),
    (85, "75-84"),
)
OLDEST_BAND = "85+"


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
                      "calibration_intercept": None, "calibration_slope": None,
                      "calibration_status": f"not computed (fewer than {MIN_EVENTS_FOR_METRICS} events or non-events)"}  # fmt: skip
    # Imported here, not with the module: a load whose model is not trained never gets this far.
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    try:
        if np.ptp(_logit(p)) < 1e-12:  # one predicted value for everyone: the slope is not identifiable
            raise np.linalg.LinAlgError("constant predictions")
        intercept, slope = calibration_fit(y, p)
    except np.linalg.LinAlgError:  # e.g. every prediction equal: y ~ a + b * logit(p) has no unique fit
        intercept = slope = float("nan")
    calibrated = bool(np.isfinite(intercept) and np.isfinite(slope))
    return out | {
        "calibration_status": "computed" if calibrated else CALIBRATION_NOT_COMPUTABLE,
        "auroc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "calibration_intercept": intercept if calibrated else None,
        "calibration_slope": slope if calibrated else None,
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


def _over_bins(raw: pl.DataFrame, count: str) -> pl.Series:
    """`count` of every bin as published with the others and their total (in bin order)."""
    safe = protect_table(raw.select("bin", pl.col(count).alias("n")), ["bin"], "n")
    return safe.filter(~pl.col("total"))["n"].alias(count)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pl.DataFrame:
    """Observed rate against mean predicted risk by decile of predicted risk (the calibration plot).

    The table travels (Dagster metadata, the model card), so its counts are published ones: `n` and
    `events` each a one-way table over the deciles with their total (`core.disclosure.protect_table`:
    rounded to 5, null when 1-7, and secondary suppression, since the overall people and events are
    shown beside it), and `observed` is events / n *of the published counts* (null when either is
    suppressed), so the rate cannot give back an exact event count. Discrimination and calibration
    metrics use the raw values.
    """
    frame = pl.DataFrame({"y": y.astype(np.float64), "p": p.astype(np.float64)})
    frame = frame.with_columns(
        ((pl.col("p").rank(method="ordinal") - 1) * bins // frame.height).cast(pl.Int32).alias("bin")
    )
    raw = (
        frame.group_by("bin")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("y").sum().cast(pl.Int64).alias("events"),
            pl.col("p").mean().alias("mean_predicted"),
        )
        .sort("bin")
        .with_columns((pl.col("bin") + 1).alias("bin"))
    )
    n = _over_bins(raw, "n")
    events = _over_bins(raw, "events")
    published = raw.with_columns(n.alias("n"), events.alias("events"))
    return published.with_columns(
        pl.when(pl.col("n") > 0).then(pl.col("events") / pl.col("n")).otherwise(None).alias("observed")
    ).select("bin", "n", "events", "mean_predicted", "observed")
