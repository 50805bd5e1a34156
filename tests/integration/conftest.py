"""Integration fixtures: one real load of the small ICS, shared by every test that only reads it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from core.layout import Home
from pipelines.runner import load


@pytest.fixture(scope="session")
def loaded(small_ics: Path, tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home loaded once from the small ICS through the real Dagster job (about 40 s)."""
    home = Home(tmp_path_factory.mktemp("home")).prepare()
    with dg.instance_for_test() as instance:
        load(data=small_ics, home=home, instance=instance)
    return home
