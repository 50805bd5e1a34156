"""`person` counts people, not records: the shared small-ICS load against the generator's truth.

Reads the one shared load (`loaded`); no load of its own. The true number of people is the distinct
truth persons among the records that were loaded (`bench.truth.person_count_accuracy`).
"""

from __future__ import annotations

from pathlib import Path

from bench.truth import person_count_accuracy
from core.layout import Home


def test_person_count_is_within_half_a_percent_of_the_true_number_of_people(
    small_ics: Path, loaded: Home
) -> None:
    figures = person_count_accuracy(small_ics / "truth", loaded)
    assert figures["true_people"] > 2_500
    assert abs(figures["person_rows"] - figures["true_people"]) <= 0.005 * figures["true_people"], figures
    # Several people counted as one would hide inside a count that looks right: few merged tokens.
    assert figures["merged_tokens"] <= 0.001 * figures["true_people"], figures
