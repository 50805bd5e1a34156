"""Shared fixtures.

Policy (see tests/README.md): unit tests use inline data; spec tests state rules per person in small
inline tables; integration tests run the real pipeline (Dagster in-process) on a small synthetic ICS
generated once per session.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

SMALL_PERSONS = 3_000
SMALL_SEED = 7
SMALL_MONTHS = 12


@contextlib.contextmanager
def global_random_untouched() -> Iterator[None]:
    """Fail when the block leaves the global `random` changed: code must use seeded generators.

    Compares the generator's state before and after, so consuming or reseeding it is caught. A library
    that insists on the global generator (Splink 5 names its temporary tables with it) may use it only
    between a save and a restore of that state, as `linkage.match_training` does.
    """
    state = random.getstate()
    yield
    if random.getstate() != state:
        raise AssertionError("code under test used the global `random`; use a seeded generator")


@pytest.fixture(scope="session")
def small_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic ICS (landing + truth), generated once per test session."""
    from synthetic import GeneratorConfig, generate

    out = tmp_path_factory.mktemp("small_ics")
    generate(GeneratorConfig(persons=SMALL_PERSONS, seed=SMALL_SEED, months=SMALL_MONTHS), out)
    return out
