"""Risk model metrics, fitting and artefacts on synthetic frames with a known logistic truth."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cohort.features import FEATURE_COLUMNS
from cohort.model import COUNT_INPUTS, FLAG_INPUTS, RunResult, load_model, save_model, score, train
from cohort.model_card import write_model_card
from cohort.model_metrics import calibration_fit, calibration_table, metrics
from cohort.model_window import TrainingWindow, months_before
from cohort.segments import assign_segments
from tests.fixtures.html_tables import count_cells, html_tables, shown_as_count

WINDOW = TrainingWindow(date(2025, 10, 31), date(2026, 10, 31), date(2026, 10, 31))


def _expit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_calibration_of_the_truth_is_one() -> None:
    rng = np.random.default_rng(1)
    p = _expit(-2 + rng.standard_normal(200_000))
    y = (rng.random(len(p)) < p).astype(float)
    intercept, slope = calibration_fit(y, p)
    assert slope == pytest.approx(1.0, abs=0.03)
    assert intercept == pytest.approx(0.0, abs=0.03)
    # Predictions twice as extreme on the logit scale: slope 1/2.
    over = _expit(2 * np.log(p / (1 - p)))
    assert calibration_fit(y, over)[1] == pytest.approx(0.5, abs=0.03)


def test_metrics_need_enough_events() -> None:
    m = metrics(np.array([0.0] * 50 + [1.0] * 3), np.full(53, 0.1))
    assert m["events"] == 3 and m["auroc"] is None and m["calibration_slope"] is None


def test_months_before_clips_to_month_end() -> None:
    assert months_before(date(2025, 3, 31), 1) == date(2025, 2, 28)
    assert months_before(date(2026, 10, 31), 12) == date(2025, 10, 31)


def _synthetic_features(n: int, seed: int) -> pl.DataFrame:
    """Every model input, with the outcome drawn from a known logistic model of a few of them."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 95, n)
    ltc = rng.poisson(age / 40)
    efi = rng.poisson(age / 25)
    emerg = rng.poisson(0.1 + age / 500)
    imd = rng.integers(1, 11, n)
    logit = -4.5 + 0.025 * age + 0.25 * np.minimum(ltc, 6) + 0.1 * efi + 0.6 * emerg + 0.08 * (5.5 - imd)
    cols: dict[str, object] = {c: rng.poisson(1.0, n) for c in COUNT_INPUTS}
    cols |= {c: rng.random(n) < 0.1 for c in FLAG_INPUTS}
    cols |= {
        "person_token": [f"P{i:06d}" for i in range(n)], "age": age, "sex": rng.choice(["M", "F"], n),
        "imd_decile": imd, "ethnic_group": rng.choice(["White", "Asian", "Black"], n), "alive": np.ones(n, bool),
        "ltc_count": ltc, "efi_deficits": efi, "emergency_admissions_12m": emerg,
        "frailty_category": np.where(efi >= 5, "mild", "fit"),
        "y": (rng.random(n) < _expit(logit)).astype(np.int8),
    }  # fmt: skip
    return pl.DataFrame(cols)


@pytest.fixture(scope="module")
def trained() -> tuple[RunResult, pl.DataFrame]:
    frame = _synthetic_features(40_000, seed=3)
    model, evaluation, held_out = train(frame, WINDOW, seed=0)
    scores = score(model, frame.drop("y"))
    features = frame.join(scores, on="person_token").join(assign_segments(frame), on="person_token")
    return RunResult(model, evaluation, features, scores, {}), held_out


def test_model_is_calibrated_and_beats_a_baseline(trained: tuple[RunResult, pl.DataFrame]) -> None:
    result, held_out = trained
    overall = result.evaluation.overall
    assert 0.9 <= overall["calibration_slope"] <= 1.1
    assert abs(overall["calibration_intercept"]) < 0.2
    assert overall["auroc"] > result.evaluation.baselines["prior_emergency_admissions"]["auroc"]
    assert overall["n"] == held_out.height == result.evaluation.n_validation
    assert result.evaluation.n_train + result.evaluation.n_validation == 40_000


def test_subgroups_cover_sex_age_ethnicity_and_deprivation(trained: tuple[RunResult, pl.DataFrame]) -> None:
    groups = set(trained[0].evaluation.subgroups["group"])
    assert groups == {"sex", "age_band", "ethnic_group", "imd_quintile"}


def test_scores_are_tiered(trained: tuple[RunResult, pl.DataFrame]) -> None:
    scores = trained[0].scores
    assert scores.columns == ["person_token", "risk_score", "risk_rank", "risk_tier"]
    assert scores.filter(pl.col("risk_tier") == "very high").height == 200  # 0.5% of 40,000


def test_model_saved_with_its_window_and_reloaded(
    trained: tuple[RunResult, pl.DataFrame], tmp_path: Path
) -> None:
    result = trained[0]
    folder = save_model(result.model, result.evaluation, tmp_path)
    assert folder.name == result.model.version and result.model.version.startswith("emerg12m-20251031-")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["window"] == {
        "features_as_of": "2025-10-31",
        "outcome_end": "2026-10-31",
        "score_date": "2026-10-31",
    }
    again = load_model(folder)
    frame = result.features.head(100)
    assert np.allclose(again.predict(frame), result.model.predict(frame))


def test_model_card_written(trained: tuple[RunResult, pl.DataFrame], tmp_path: Path) -> None:
    md, page = write_model_card(
        trained[0], tmp_path / "model", page=tmp_path / "reports" / "model_card.html", created_at="2026-11-01"
    )
    assert md == tmp_path / "model" / "model_card.md"
    text = md.read_text()
    for heading in (
        "## Intended use",
        "## Performance on held-out people",
        "## By subgroup",
        "## Risk tiers",
    ):
        assert heading in text
    assert "baseline: age_and_condition_count" in text
    html = page.read_text()
    assert 'data-figure="fig-calibration"' in html and "<table>" in html
    assert "<h2>Intended use</h2>" in html and "<h1>Model card: " in html
    assert (tmp_path / "reports" / "assets" / "plotly.min.js").exists()


def test_inputs_are_feature_columns() -> None:
    assert set(COUNT_INPUTS + FLAG_INPUTS) <= set(FEATURE_COLUMNS)


def test_calibration_table_publishes_rounded_counts_and_rates_of_them() -> None:
    """Events 0-7 in a decile are suppressed, others rounded to 5; the observed rate is the published
    events over the published people, so it cannot give back an exact count."""
    from cohort.model_metrics import calibration_table

    p = np.linspace(0.01, 0.99, 200)  # 10 bins of 20 people
    y = np.zeros(200)
    y[:3] = 1  # bin 1: 3 events (suppressed)
    y[20:25] = 1  # bin 2: 5 events (suppressed: two in the line, so no secondary suppression needed)
    y[-13:] = 1  # bin 10: 13 events (published as 15)
    table = calibration_table(y, p)
    assert table["n"].to_list() == [20] * 10
    assert table["events"].to_list() == [None, None, 0, 0, 0, 0, 0, 0, 0, 15]
    assert table["observed"].to_list() == [None, None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.75]


def test_calibration_counts_are_protected_with_their_total() -> None:
    """100 people in ten deciles of 10; events 0, 0, 0, 0, 3, then 10 per decile. The 3 is suppressed,
    and so is the next smallest events count (decile 6), else the overall events (shown in the card)
    minus the others would give the 3 back; the observed rate goes with them."""
    p = np.linspace(0.01, 0.99, 100)
    y = np.zeros(100)
    y[40:43] = 1
    y[50:] = 1
    table = calibration_table(y, p)
    assert table["n"].to_list() == [10] * 10
    assert table["events"].to_list() == [0, 0, 0, 0, None, None, 10, 10, 10, 10]
    assert table["observed"].to_list() == [0.0, 0.0, 0.0, 0.0, None, None, 1.0, 1.0, 1.0, 1.0]


def test_the_model_card_shows_only_published_counts(
    trained: tuple[RunResult, pl.DataFrame], tmp_path: Path
) -> None:
    """The rendered card's people and events cells, read back from its HTML tables, with a subgroup
    planted that is too small to show: 3 people of unknown sex are suppressed, and so are the men
    (the next smallest), since the held-out total is shown."""
    result = trained[0]
    planted = pl.DataFrame(
        [("sex", "F", 5000, 400), ("sex", "M", 4990, 390), ("sex", "unknown", 3, 0)],
        schema={"group": pl.String, "value": pl.String, "n": pl.Int64, "events": pl.Int64},
        orient="row",
    )
    card = RunResult(
        result.model, replace(result.evaluation, subgroups=planted), result.features, result.scores, {}
    )
    _, page = write_model_card(card, tmp_path / "model", page=tmp_path / "model_card.html")
    tables = html_tables(page.read_text())
    subgroup = next(t for t in tables if t[0][:4] == ["group", "", "people", "events"])
    assert [row[:4] for row in subgroup[1:]] == [
        ["sex", "F", "5000", "400"], ["sex", "M", "*", "390"], ["sex", "unknown", "*", "0"],
    ]  # fmt: skip
    cells = count_cells(page.read_text(), {"people", "events"})
    assert len(cells) > 20
    assert [c for c in cells if not (shown_as_count(c) or c == "—")] == []
