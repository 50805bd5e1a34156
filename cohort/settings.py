"""The cohort step's deployment settings, and the files one step leaves for the next.

- `WAREHOUSE_SETTINGS`: how cohort `codes`/`events` criteria reach the warehouse's activity tables.
- `MODEL_BOUNDS`, `COHORT_SIZE_BOUNDS`: what the Dagster asset checks hold the risk model and the
  published cohorts to (warnings, never blocking: a model outside them still scores, a person decides).
- The step files under HOME/cohort/ (`score_date.json`, `current_model.json`) and the model folder
  (`metadata.json`, `subgroup_metrics.parquet`, `calibration.parquet`): written by one step, read by
  the next, and rebuilt here into the result objects (`Evaluation`, `RunResult`) the model card takes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from cohort import model as risk
from cohort.definitions import EventFilter, SettingTable
from core.layout import Home

WAREHOUSE_SETTINGS: dict[str, SettingTable] = {
    "gp_event": SettingTable("gp_event", "event_date", code_columns=("snomed_code",)),
    "gp_medication": SettingTable("gp_medication", "issue_date", code_columns=("dmd_code",)),
    "apc": SettingTable(
        "apc_spell", "admission_date", code_columns=("primary_diagnosis",),
        filters={"emergency_only": EventFilter("is_emergency", (True,))},
    ),
    "ae": SettingTable("ae_attendance", "arrival_date", code_columns=("diagnosis", "chief_complaint")),
    "op": SettingTable("op_appointment", "appointment_date"),
    "community": SettingTable("community_contact", "contact_date"),
    "mh": SettingTable("mh_contact", "contact_date"),
    "asc": SettingTable("asc_event", "event_start"),
}  # fmt: skip


@dataclass(frozen=True)
class Bounds:
    """An inclusive range a stored figure should fall in, and why."""

    low: float
    high: float
    why: str

    def holds(self, value: float | None) -> bool:
        return value is not None and self.low <= value <= self.high


# Held-out metrics of the saved model (metadata.json). Below 0.65 AUROC the tiers barely order risk;
# above 0.98 the outcome has probably leaked into an input. A calibration slope outside 0.8-1.2 means
# the predicted risks are too spread out (< 1) or too bunched (> 1) to read as probabilities.
MODEL_BOUNDS: dict[str, Bounds] = {
    "auroc": Bounds(0.65, 0.98, "discrimination: better than weak, short of suspicious"),
    "calibration_slope": Bounds(0.8, 1.2, "predicted risks usable as probabilities"),
}


@dataclass(frozen=True)
class CohortSizeBounds:
    """How many members a published cohort should have: at least `min_members` (an empty list helps
    no practice) and at most `max_share` of the warehouse's people (more is a definition that filters
    next to nothing)."""

    min_members: int = 1
    max_share: float = 0.25

    def holds(self, members: int, people: int) -> bool:
        return members >= self.min_members and members <= self.max_share * people


COHORT_SIZE_BOUNDS = CohortSizeBounds()


def cohort_dir(home: Home) -> Path:
    out = home.cohort_dir
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_score_date(home: Home, score_date: date) -> None:
    (cohort_dir(home) / "score_date.json").write_text(json.dumps({"score_date": score_date.isoformat()}))


def read_score_date(home: Home) -> date:
    """The score date the training-features step chose (and the later steps score as at)."""
    return date.fromisoformat(json.loads((cohort_dir(home) / "score_date.json").read_text())["score_date"])


def write_current_model(home: Home, version: str, folder: Path) -> None:
    """Record the model the training step saved, its folder relative to the home where it lies inside it.

    Relative, so a home copied or moved (a backup restored, a test copying a built installation) reads
    its own model and not the original's.
    """
    try:
        stored = folder.resolve().relative_to(home.root.resolve()).as_posix()
    except ValueError:  # a model folder outside the home is kept as given
        stored = str(folder)
    (cohort_dir(home) / "current_model.json").write_text(json.dumps({"version": version, "path": stored}))


def current_model_folder(home: Home) -> Path:
    """The folder of the model the last training step saved (HOME/models/<version>/).

    A relative path is read against the home; an absolute one (written before paths were relative, or a
    model kept outside the home) as it is.
    """
    stored = Path(json.loads((cohort_dir(home) / "current_model.json").read_text())["path"])
    return stored if stored.is_absolute() else home.root / stored


def stored_metrics(folder: Path) -> dict[str, Any]:
    """The saved model's held-out metrics, as `save_model` wrote them to metadata.json."""
    metrics: dict[str, Any] = json.loads((folder / "metadata.json").read_text())["metrics"]
    return metrics


def load_evaluation(folder: Path) -> risk.Evaluation:
    """The saved model's `Evaluation`, rebuilt from metadata.json and the two parquet tables beside it."""
    meta = json.loads((folder / "metadata.json").read_text())
    return risk.Evaluation(
        meta["metrics"], pl.read_parquet(folder / "subgroup_metrics.parquet"), meta["baselines"],
        pl.read_parquet(folder / "calibration.parquet"), meta["n_train"], meta["n_validation"],
    )  # fmt: skip


def load_run_result(home: Home) -> tuple[risk.RunResult, Path]:
    """The current model, its evaluation and the scored features and scores, as the steps stored them."""
    folder = current_model_folder(home)
    result = risk.RunResult(
        risk.load_model(folder), load_evaluation(folder), pl.read_parquet(cohort_dir(home) / "features.parquet"),
        pl.read_parquet(cohort_dir(home) / "scores.parquet"), {},
    )  # fmt: skip
    return result, folder
