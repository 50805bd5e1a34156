"""Benchmark sizes: any ICS fits the synthetic test range; only a country-sized request is capped."""

from __future__ import annotations

import pytest

from bench.data import fit_persons


def test_a_hundred_million_people_run_at_the_largest_population_that_fits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert fit_persons(100_000_000, 24) == 89_000_000
    note = capsys.readouterr().err.splitlines()
    assert note[0] == (
        "note: 100,000,000 people cannot all have valid NHS numbers from the synthetic test range "
        "900 000 0000-999 999 9999 (90,909,091 exist); running the largest synthetic ICS that fits, "
        "89,000,000 people over 24 months. Rows per second is the figure that carries over to larger "
        "populations."
    )


@pytest.mark.parametrize("persons", [3_000, 880_000, 1_000_000, 3_000_000, 10_000_000])
def test_sizes_that_fit_are_kept_silently(persons: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert fit_persons(persons, 24) == persons
    assert capsys.readouterr().err == ""
