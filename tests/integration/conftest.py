"""Integration fixtures: the synthetic ICSs and the real loads that every test that only reads shares.

Each is built once per test session, whichever pytest-xdist worker asks first
(`tests.fixtures.session_cache.built_once`), so the workers share the work instead of each repeating
it, and tests that read a load need not all run on one worker.

`loaded` is the only full load from scratch of the small ICS; `tiny_loaded` the only one of the tiny
ICS. Tests that read them take them as is; a test that must change a home (re-run a load, republish,
break a file) takes `loaded_copy` / `tiny_loaded_copy`, a private copy, instead of loading again. The
session fails if anything changed a shared home.

The tiny ICS is generated and loaded under umask 000, as a careless service account would run them, so
the tests of file modes (test_no_back_links.py) read the same shared home as every other reader
instead of generating and loading an ICS of their own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from core.layout import Home
from linkage.warehouse import open_read_only
from pipelines.runner import load
from tests.fixtures.session_cache import built_once

SMALL_PERSONS = 3_000
SMALL_SEED = 7
SMALL_MONTHS = 12
# A few hundred people over three months: for tests that corrupt feeds or run the steps twice.
TINY_PERSONS = 600
TINY_SEED = 11
TINY_MONTHS = 3
# The tiny ICS's generate and load run under this umask (nothing masked), as a careless service account
# would have it: every identifiable file must still come out 0600 in a 0700 folder.
CARELESS_UMASK = 0o000


@contextmanager
def _umask(mask: int | None) -> Iterator[None]:
    """The process's umask set to `mask` (None: left as it is) while the block runs.

    A build runs in one xdist worker between two tests, so nothing else of the session creates files
    while it is set."""
    if mask is None:
        yield
        return
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _generator(persons: int, seed: int, months: int, umask: int | None = None) -> Callable[[Path], None]:
    def generate_into(out: Path) -> None:
        from synthetic import GeneratorConfig, generate

        with _umask(umask):
            generate(GeneratorConfig(persons=persons, seed=seed, months=months), out)

    return generate_into


def _loader(data: Path, umask: int | None = None) -> Callable[[Path], None]:
    def load_into(out: Path) -> None:
        """A home loaded from `data` through the real Dagster job, beside the instance it ran in."""
        with _umask(umask):
            home = Home(out / "home").prepare()
            (out / "instance").mkdir()
            with dg.instance_for_test(temp_dir=str(out / "instance")) as instance:
                load(data=data, home=home, instance=instance)

    return load_into


@pytest.fixture(scope="session")
def small_ics(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A small synthetic ICS (landing + truth), generated once per test session."""
    build = _generator(SMALL_PERSONS, SMALL_SEED, SMALL_MONTHS)
    return built_once(tmp_path_factory, worker_id, "small_ics", build)


@pytest.fixture(scope="session")
def tiny_ics(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A tiny synthetic ICS (landing + truth), generated once per session under umask 000; tests that
    change its files change a copy."""
    build = _generator(TINY_PERSONS, TINY_SEED, TINY_MONTHS, umask=CARELESS_UMASK)
    return built_once(tmp_path_factory, worker_id, "tiny_ics", build)


def _state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _unchanged(home: Home) -> Iterator[Home]:
    before = _state(home.root)
    yield home
    assert _state(home.root) == before, "a test changed a shared loaded home; use its _copy fixture"


@pytest.fixture(scope="session")
def small_load(small_ics: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The small ICS loaded once per session: `home/` and the Dagster instance it ran in, `instance/`."""
    return built_once(tmp_path_factory, worker_id, "small_load", _loader(small_ics))


@pytest.fixture(scope="session")
def loaded(small_load: Path) -> Iterator[Home]:
    """A home loaded once from the small ICS through the real Dagster job; read it, never change it."""
    yield from _unchanged(Home(small_load / "home"))


@pytest.fixture(scope="session")
def load_instance(small_load: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance the shared load ran in (this worker's copy of it), so a test can inspect
    that run's event log."""
    copy = tmp_path_factory.mktemp("load_instance") / "instance"
    shutil.copytree(small_load / "instance", copy)
    with dg.instance_for_test(temp_dir=str(copy)) as instance:
        yield instance


@pytest.fixture
def load_instance_copy(small_load: Path, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A private copy of the shared load's Dagster instance, for a test that runs more jobs in it."""
    shutil.copytree(small_load / "instance", tmp_path / "instance")
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        yield instance


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


@pytest.fixture(scope="session")
def tiny_loaded(tiny_ics: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Home]:
    """A home loaded once from the tiny ICS through the real Dagster job, under umask 000; read it, never
    change it."""
    folder = built_once(tmp_path_factory, worker_id, "tiny_load", _loader(tiny_ics, umask=CARELESS_UMASK))
    yield from _unchanged(Home(folder / "home"))


@pytest.fixture
def tiny_loaded_copy(tiny_loaded: Home, tmp_path: Path) -> Home:
    """A private copy of the tiny loaded home, for a test that re-runs, republishes or breaks it."""
    home = Home(tmp_path / "home")
    shutil.copytree(tiny_loaded.root, home.root)
    return home
