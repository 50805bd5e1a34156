"""match_people on small inline frames: what it accepts, what it refuses, and that it is repeatable."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from linkage.matcher import UNEXPLAINED_DOB_MARGIN, _decide, match_people, threshold_weight

D = dt.date

# Right side: a small "register". Left side: records about some of them, each with one kind of error.
RIGHT = pl.DataFrame(
    {
        "pid": ["R1", "R2", "R3", "R4", "R5", "R6"],
        "given_name": ["John", "Mary", "Ann", "Robert", "Aisha", "Oliver"],
        "family_name": ["Smith", "O'Brien", "Jones", "Brown", "Khan", "Taylor"],
        "date_of_birth": [
            D(1980, 4, 3),
            D(1975, 12, 1),
            D(1990, 5, 5),
            D(1960, 6, 16),
            D(2001, 9, 30),
            D(1950, 1, 20),
        ],
        "sex": ["M", "F", "F", "M", "F", "M"],
        "postcode": ["QA1 1AA", "QB2 2BB", "QC3 3CC", "QA1 1AB", "QB9 9ZZ", "QC1 2DE"],
    }
)
LEFT = pl.DataFrame(
    {
        "rid": [1, 2, 3, 4, 5, 6],
        #        swap d/m     accents/punct  name typo    digit swap   not in right  DOB 11 years apart
        "given_name": ["John", "MARY", "Anne", "Robert", "Zed", "Oliver"],
        "family_name": ["Smith", "o brien", "Jones", "Brown", "Nobody", "Taylor"],
        "date_of_birth": [
            D(1980, 3, 4),
            D(1975, 12, 1),
            D(1990, 5, 5),
            D(1906, 6, 16),
            D(2003, 1, 1),
            D(1961, 1, 20),
        ],
        "sex": ["M", "F", "F", "M", "M", "M"],
        "postcode": ["qa11aa", "QB2 2BB", None, "QA1 1AB", "QC9 9XX", "QC1 2DE"],
    }
)


def _run(**kwargs: object) -> pl.DataFrame:
    return match_people(LEFT, RIGHT, left_id="rid", right_id="pid", link_rate=0.8, **kwargs).best  # type: ignore[arg-type]


def test_each_left_record_gets_its_best_candidate_and_a_decision() -> None:
    best = _run()
    assert best.columns == ["rid", "pid", "match_probability", "match_weight", "accepted", "reason"]
    assert best["rid"].to_list() == [1, 2, 3, 4, 5, 6]
    got = dict(zip(best["rid"], zip(best["pid"], best["accepted"], strict=True), strict=True))
    assert got[1] == ("R1", True)  # day and month swapped
    assert got[2] == ("R2", True)  # case, spacing and punctuation normalised away
    assert got[3] == ("R3", True)  # one-letter name edit, postcode missing
    assert got[4] == ("R4", True)  # 1960 -> 1906: adjacent digits transposed
    assert not got[5][1]  # nobody like them on the right


def _weight_probability(weight: float) -> float:
    return 2**weight / (1 + 2**weight)


def test_an_unexplained_dob_needs_the_margin_on_top_of_the_threshold() -> None:
    """The DOB rule decides from the weight alone: 0.9 is weight 3.17; an unexplained DOB needs 3 more."""
    bar = threshold_weight(0.9) + UNEXPLAINED_DOB_MARGIN
    rows = [  # (left, right, weight, dob explained)
        (1, "R1", threshold_weight(0.9) + 0.5, True),  # explained, above 0.9: accepted
        (2, "R2", bar - 0.01, False),  # unexplained, just under the bar: review
        (3, "R3", bar + 0.01, False),  # unexplained, just over it: accepted
        (4, "R4", 0.5, False),  # unexplained and in the band: band, as any such pair
    ]
    scored = pl.DataFrame(
        {
            "rid": [r[0] for r in rows],
            "pid": [r[1] for r in rows],
            "_entity": [r[1] for r in rows],
            "match_weight": [r[2] for r in rows],
            "match_probability": [_weight_probability(r[2]) for r in rows],
            "dob_explained": [r[3] for r in rows],
        }
    )
    res = _decide(scored, pl.DataFrame({"rid": [1, 2, 3, 4, 5]}), "rid", "pid", None, 0.9, 0.5)
    assert res.best["reason"].to_list() == ["accepted", "dob_unexplained", "accepted", "band", "no_candidate"]
    assert res.best["accepted"].to_list() == [True, False, True, False, False]
    assert res.review["rid"].to_list() == [2, 4]
    assert res.review["reason"].to_list() == ["dob_unexplained", "band"]
    assert UNEXPLAINED_DOB_MARGIN == 3.0


def test_absent_and_null_columns_are_tolerated() -> None:
    left = LEFT.drop("postcode", "sex").with_columns(pl.lit(None, pl.String).alias("address"))
    right = RIGHT.drop("sex").with_columns(pl.lit("1 Mill Lane").alias("address"))
    best = match_people(left, right, left_id="rid", right_id="pid", link_rate=0.8).best
    assert best.filter(pl.col("rid") == 2)["pid"].item() == "R2"


def test_same_seed_same_output() -> None:
    assert _run().equals(_run())


def test_blocked_pairs_are_never_proposed() -> None:
    blocked = pl.DataFrame({"rid": [2], "pid": ["R2"]})
    best = match_people(LEFT, RIGHT, left_id="rid", right_id="pid", link_rate=0.8, blocked_pairs=blocked).best
    assert best.filter(pl.col("rid") == 2)["pid"].item() != "R2"


@pytest.mark.parametrize(
    ("left", "kwargs", "message"),
    [
        (LEFT.with_columns(pl.lit(1).alias("rid")), {}, "unique"),
        (LEFT, {"right_id": "rid"}, "distinct"),
        (LEFT, {"threshold": 0.0}, "threshold"),
    ],
)
def test_bad_arguments_are_refused(left: pl.DataFrame, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"left_id": "rid", "right_id": "pid", **kwargs}
    with pytest.raises(ValueError, match=message):
        match_people(left, RIGHT, **args)  # type: ignore[arg-type]


def test_empty_left_gives_empty_result() -> None:
    res = match_people(LEFT.clear(), RIGHT, left_id="rid", right_id="pid")
    assert res.best.height == 0 and res.review.height == 0
