"""Benchmark sizes: a population the 999 test range cannot hold runs at the largest one it can."""

from __future__ import annotations

import pytest

from bench.data import fit_persons


def test_a_million_people_run_at_the_largest_ics_that_fits(capsys: pytest.CaptureFixture[str]) -> None:
    assert fit_persons(1_000_000, 24) == 880_000
    assert fit_persons(1_000_000, 12) == 890_000
    note = capsys.readouterr().err.splitlines()
    assert note[0] == (
        "note: 1,000,000 people cannot all have valid NHS numbers from the 999 test range (909,091 exist); "
        "running the largest synthetic ICS that fits, 880,000 people over 24 months. Rows per second is "
        "the figure that carries over to larger populations."
    )


@pytest.mark.parametrize("persons", [3_000, 20_000, 880_000])
def test_sizes_that_fit_are_kept_silently(persons: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit_persons(persons, 24) == persons
    assert capsys.readouterr().err == ""
