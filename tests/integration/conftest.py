"""Integration fixtures: the synthetic ICSs and the one real load every test that only reads shares.

`loaded` is the only full load from scratch of the small ICS. Tests that read it take it as is; a test
that must change a home (re-run a load, republish, break a file) takes `loaded_copy`, a private copy
of it, instead of loading again. The session fails if anything changed the shared home.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from core.layout import Home
from linkage.warehouse import open_read_only
from pipelines.runner import load

SMALL_PERSONS = 3_000
SMALL_SEED = 7
SMALL_MONTHS = 12
# A few hundred people over three months: for tests that corrupt feeds or run the steps twice.
TINY_PERSONS = 600
TINY_SEED = 11
TINY_MONTHS = 3


def _generate(out: Path, persons: int, seed: int, months: int) -> Path:
    from synthetic import GeneratorConfig, generate

    generate(GeneratorConfig(persons=persons, seed=seed, months=months), out)
    return out


@pytest.fixture(scope="session")
def small_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic ICS (landing + truth), generated once per test session."""
    return _generate(tmp_path_factory.mktemp("small_ics"), SMALL_PERSONS, SMALL_SEED, SMALL_MONTHS)


@pytest.fixture(scope="session")
def tiny_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic ICS (landing + truth), generated once per session; tests that change its files
    change a copy."""
    return _generate(tmp_path_factory.mktemp("tiny_ics"), TINY_PERSONS, TINY_SEED, TINY_MONTHS)


@pytest.fixture(scope="session")
def load_instance() -> Iterator[dg.DagsterInstance]:
    """The Dagster instance the shared load ran in, so a test can inspect that run's event log."""
    with dg.instance_for_test() as instance:
        yield instance


def _state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def loaded(
    small_ics: Path, load_instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Home]:
    """A home loaded once from the small ICS through the real Dagster job; read it, never change it."""
    home = Home(tmp_path_factory.mktemp("home")).prepare()
    load(data=small_ics, home=home, instance=load_instance)
    before = _state(home.root)
    yield home
    assert _state(home.root) == before, "a test changed the shared loaded home; use loaded_copy"


@pytest.fixture(scope="session")
def warehouse(loaded: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the shared load's warehouse, as an analyst opens it."""
    con = open_read_only(loaded.warehouse)
    yield con
    con.close()


@pytest.fixture
def loaded_copy(loaded: Home, tmp_path: Path) -> Home:
    """A private copy of the loaded home, for a test that re-runs, republishes or breaks it."""
    home = Home(tmp_path / "home")
    shutil.copytree(loaded.root, home.root)
    return home
