"""Bridges to Health segments: one inline person per rule, first matching rule wins."""

from __future__ import annotations

import polars as pl

from cohort.segments import SEGMENT_COLUMNS, SEGMENTS, assign_segments, segment_counts

BASE = {c: 0 for c in SEGMENT_COLUMNS} | {
    "age": 40, "frailty_category": "fit", "has_cancer": False, "has_dementia": False,
    "has_learning_disability": False, "has_heart_failure": False, "has_copd": False, "has_ckd": False,
    "maternity_12m": False, "asc_long_term_support": False,
}  # fmt: skip

# person: (changes from BASE, expected segment)
PEOPLE = {
    "cancer_admitted": (
        {"has_cancer": True, "ltc_count": 1, "emergency_admissions_12m": 1},
        "short decline before dying",
    ),
    "cancer_only": ({"has_cancer": True, "ltc_count": 1}, "chronic conditions"),
    "hf_admitted": (
        {"has_heart_failure": True, "ltc_count": 1, "emergency_admissions_12m": 2},
        "limited reserve",
    ),
    "frail_70": ({"age": 70, "frailty_category": "moderate", "ltc_count": 3}, "frailty"),
    "frail_60": ({"age": 60, "frailty_category": "severe", "ltc_count": 3}, "chronic conditions"),
    "dementia_60": ({"age": 60, "has_dementia": True, "ltc_count": 1}, "frailty"),
    "ld": ({"has_learning_disability": True, "ltc_count": 1}, "serious disability"),
    "care_package": ({"asc_long_term_support": True}, "serious disability"),
    "infant": ({"age": 0}, "maternal and infant health"),
    "maternity": ({"maternity_12m": True}, "maternal and infant health"),
    "asthma": ({"ltc_count": 1}, "chronic conditions"),
    "ae_only": ({"ae_12m": 1}, "acutely ill"),
    "nothing": ({}, "healthy"),
}


def test_segment_per_person() -> None:
    frame = pl.DataFrame([BASE | change | {"person_token": p} for p, (change, _) in PEOPLE.items()])
    out = assign_segments(frame)
    assert dict(out.rows()) == {p: expected for p, (_, expected) in PEOPLE.items()}


def test_counts_cover_every_segment() -> None:
    frame = pl.DataFrame([BASE | {"person_token": "x"}])
    counts = segment_counts(assign_segments(frame))
    assert counts["segment"].to_list() == list(SEGMENTS)
    assert counts["people"].sum() == 1
