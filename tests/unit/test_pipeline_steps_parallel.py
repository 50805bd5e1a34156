"""How many files the per-file stages work on at once: PHM_WORKERS, read when a stage starts.

The stages themselves, run with one and with two workers over real files, are tested in
tests/integration/test_pipeline_steps_parallel.py."""

from __future__ import annotations

import pytest

import load as steps


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), ("0", 1)])
def test_workers_from_environment(value: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHM_WORKERS", value)
    assert steps.workers() == expected


def test_workers_must_be_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHM_WORKERS", "two")
    with pytest.raises(ValueError, match=r"^PHM_WORKERS must be a whole number, got 'two'$"):
        steps.workers()
