"""Shared fixtures.

Policy (see tests/README.md): unit tests use inline data; spec tests state rules per person in small
inline tables; integration tests run the real pipeline (Dagster in-process) on a small synthetic ICS
generated once per session.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

SMALL_PERSONS = 3_000
SMALL_SEED = 7
SMALL_MONTHS = 12


def forbid_global_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the global `random` functions fail: code must use seeded generators (numpy or Random(seed))."""

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("code under test used the global `random`; use a seeded generator")

    for name in ("random", "randint", "choice", "choices", "shuffle", "sample", "uniform", "gauss"):
        monkeypatch.setattr(random, name, forbidden)


@pytest.fixture(scope="session")
def small_ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic ICS (landing + truth), generated once per test session."""
    from synthetic import GeneratorConfig, generate

    out = tmp_path_factory.mktemp("small_ics")
    generate(GeneratorConfig(persons=SMALL_PERSONS, seed=SMALL_SEED, months=SMALL_MONTHS), out)
    return out
