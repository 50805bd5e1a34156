"""Issue 13 item 9: on small or degenerate data the risk model says what it could not compute, never crashes.

Too few outcomes to fit: no model, null scores and tiers, the reason in metadata and the model card.
A calibration fit with no solution: calibration intercept and slope null, `calibration_status` says why.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cohort import model_metrics
from cohort.model import NOT_TRAINED, RunResult, metadata, score, train
from cohort.model_card import render_markdown
from cohort.model_metrics import CALIBRATION_NOT_COMPUTABLE, metrics
from tests.unit.test_model_metrics import WINDOW, _synthetic_features


def _with_events(n: int, events: int) -> pl.DataFrame:
    frame = _synthetic_features(n, seed=5)
    return frame.with_columns(pl.Series("y", (np.arange(n) < events).astype(np.int8)))


@pytest.mark.parametrize("events", [0, 3])
def test_too_few_outcomes_give_no_model_and_null_scores(events: int) -> None:
    frame = _with_events(400, events)
    model, evaluation, held_out = train(frame, WINDOW, seed=0)
    n_train = evaluation.n_train
    in_train = int(frame.filter(~pl.col("person_token").is_in(held_out["person_token"].implode()))["y"].sum())
    reason = (
        f"{in_train} of {n_train} training people had the outcome; at least 10 with and 10 without it "
        "are needed to fit a model"
    )
    assert (model.status, model.reason, model.estimator) == (NOT_TRAINED, reason, None)
    assert evaluation.overall["auroc"] is None and evaluation.overall["calibration_slope"] is None
    assert evaluation.baselines == {}
    scores = score(model, frame.drop("y"))
    assert scores.height == 400
    assert scores["risk_score"].null_count() == 400 and scores["risk_tier"].null_count() == 400
    saved = metadata(model, evaluation)
    assert (saved["status"], saved["status_reason"]) == (NOT_TRAINED, reason)
    card = render_markdown(RunResult(model, evaluation, frame, scores, {}))
    assert f"- **Status:** not trained, no risk scores this run: {reason}." in card


def test_constant_predictions_have_no_calibration_fit() -> None:
    y = np.array([0.0, 1.0] * 20)
    out = metrics(y, np.full(40, 0.3))
    assert out["calibration_status"] == CALIBRATION_NOT_COMPUTABLE
    assert (out["calibration_intercept"], out["calibration_slope"]) == (None, None)
    assert out["auroc"] == 0.5


def test_a_singular_calibration_fit_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LinAlgError a small ICS raised from the recalibration's Newton step."""

    def singular(*_: object) -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(model_metrics.np.linalg, "solve", singular)
    y = np.array([0.0, 1.0] * 20)
    out = metrics(y, np.linspace(0.05, 0.95, 40))
    assert out["calibration_status"] == CALIBRATION_NOT_COMPUTABLE
    assert out["calibration_slope"] is None
    assert out["auroc"] is not None  # the other metrics are still computed


def test_a_trained_model_says_its_calibration_was_computed() -> None:
    frame = _synthetic_features(4_000, seed=2)
    model, evaluation, _ = train(frame, WINDOW, seed=0)
    assert model.status == "trained"
    assert evaluation.overall["calibration_status"] == "computed"
    assert isinstance(evaluation.overall["calibration_slope"], float)
