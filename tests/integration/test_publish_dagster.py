"""Issue 13 item 2 through the real Dagster job (`load_all`, as `phm run` and the UI run it): a failure
after the warehouse step (here the model step raising the LinAlgError a small ICS once raised) leaves
the published warehouse byte-identical, says so, and leaves no build file behind. It starts from a
copy of the session's one load of the tiny ICS (`tiny_loaded_copy`), the warehouse that run published."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from cohort import model
from core.layout import Home
from pipelines.runner import PipelineFailed, load


def test_a_failure_after_the_warehouse_step_leaves_the_published_file_byte_identical(
    tiny_ics: Path, tiny_loaded_copy: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tiny_loaded_copy
    published = hashlib.sha256(home.warehouse.read_bytes()).hexdigest()

    def singular(*_: object, **__: object) -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(model, "train", singular)
    # One month re-ingested is enough to reach the warehouse and model steps (the home holds the other
    # two already); re-ingesting all three would only repeat work the point does not need.
    with dg.instance_for_test() as instance, pytest.raises(PipelineFailed) as failure:
        load(data=tiny_ics, home=home, instance=instance, months=["2026-10"])
    message = str(failure.value)
    assert message.startswith("run failed; the published warehouse is unchanged.\n"), message
    assert "cohort__risk_model: LinAlgError" in message
    assert hashlib.sha256(home.warehouse.read_bytes()).hexdigest() == published
    assert sorted(p.name for p in home.warehouse.parent.iterdir()) == ["warehouse.duckdb", "warehouse.lock"]
