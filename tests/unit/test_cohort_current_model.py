"""The current-model pointer is relative to the home, so a copied home reads its own model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cohort.settings import current_model_folder, write_current_model
from core.layout import Home


def test_the_pointer_is_stored_relative_to_the_home(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    folder = home.models_dir / "v3"
    folder.mkdir(parents=True)
    write_current_model(home, "v3", folder)

    stored = json.loads((home.cohort_dir / "current_model.json").read_text())
    assert stored == {"version": "v3", "path": "models/v3"}
    assert current_model_folder(home) == home.root / "models" / "v3"


def test_a_copied_home_reads_its_own_model_not_the_originals(tmp_path: Path) -> None:
    original = Home(tmp_path / "original")
    (original.models_dir / "v1").mkdir(parents=True)
    write_current_model(original, "v1", original.models_dir / "v1")
    shutil.copytree(original.root, tmp_path / "copy")
    shutil.rmtree(original.root)

    copy = Home(tmp_path / "copy")
    assert current_model_folder(copy) == tmp_path / "copy" / "models" / "v1"
    assert current_model_folder(copy).is_dir()


def test_a_model_outside_the_home_and_an_old_absolute_pointer_are_read_as_written(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    outside = tmp_path / "shared-models" / "v2"
    write_current_model(home, "v2", outside)
    assert json.loads((home.cohort_dir / "current_model.json").read_text())["path"] == str(outside)
    assert current_model_folder(home) == outside

    # a pointer written before paths were relative holds the absolute folder
    old = home.root / "models" / "v0"
    (home.cohort_dir / "current_model.json").write_text(json.dumps({"version": "v0", "path": str(old)}))
    assert current_model_folder(home) == old
