"""Cohort definitions compiled to SQL and run on a tiny in-memory DuckDB: the exact people each example
definition selects, with the reason per person. As-of date 2026-06-30: a 6-month window starts
2025-12-30, a 12-month window 2025-06-30 (both inclusive); activity after the as-of date never counts."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

import cohort
from cohort.definitions import (
    CohortDefinition,
    EventFilter,
    SettingTable,
    compile,
    load_cohorts,
    parse_definition,
)
from cohort.features import DEFAULT_ALLOWED_FEATURES

AS_OF = date(2026, 6, 30)
EXAMPLES = Path(cohort.__file__).parent / "definitions"
CODELISTS = {"hba1c", "diabetes_diagnosis", "cancer"}
PURPOSES = {"proactive-frailty-review", "diabetes-recall", "ics-risk-stratification"}
SETTINGS = {
    "gp_event": SettingTable("gp_event", "event_date", code_columns=("snomed_code",)),
    "ae": SettingTable("ae_attendance", "arrival_date"),
    "mh": SettingTable("mh_contact", "contact_date"),
    "asc": SettingTable("asc_event", "event_date"),
    "apc": SettingTable(
        "apc_spell",
        "admission_date",
        code_columns=("primary_diagnosis", "secondary_diagnosis"),
        filters={"emergency_only": EventFilter("is_emergency", (True,))},
    ),
}
# codelist, code
REF_CODELIST = [
    ("hba1c", "1049301000000100"),
    ("hba1c", "1003671000000109"),
    ("diabetes_diagnosis", "44054006"),
    ("cancer", "C50"),
]  # fmt: skip


def _by_id(cohort_id: str) -> CohortDefinition:
    [found] = [
        c
        for c in load_cohorts(EXAMPLES, allowed_codelists=CODELISTS, allowed_purposes=PURPOSES)
        if c.id == cohort_id
    ]
    return found


def _run(definition: CohortDefinition, tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    con = duckdb.connect()
    con.execute("SET python_enable_replacements=false")
    tables = {"ref_codelist": pl.DataFrame(REF_CODELIST, schema=["codelist", "code"], orient="row"), **tables}
    for name, frame in tables.items():
        con.register(f"{name}_input", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_input")
    sql, params = compile(
        definition,
        features_table="features",
        allowed_features=DEFAULT_ALLOWED_FEATURES,
        allowed_codelists=CODELISTS,
        setting_tables=SETTINGS,
        as_of=AS_OF,
    )
    return dict(con.execute(sql, params).fetchall())


def _expected(frame: pl.DataFrame) -> set[str]:
    return set(frame.filter(pl.col("expected"))["person_token"])


def test_examples_load() -> None:
    ids = [c.id for c in load_cohorts(EXAMPLES, allowed_codelists=CODELISTS, allowed_purposes=PURPOSES)]
    assert ids == [
        "diabetes_no_hba1c_12m",
        "frail_65_high_risk_no_gp_6m",
        "frequent_ae_with_mh",
        "top_tier_social_care",
    ]


# person  age  alive  registered  frailty     tier        gp_contacts_6m  expected
FRAIL_FEATURES = pl.DataFrame(
    [
        ("p01", 65,  True,  True,  "moderate", "high",      0,    True),    # all criteria; age boundary
        ("p02", 64,  True,  True,  "severe",   "very high", 0,    False),   # under 65
        ("p03", 88,  True,  True,  "severe",   "very high", 0,    True),
        ("p04", 80,  True,  True,  "mild",     "very high", 0,    False),   # mild frailty only
        ("p05", 80,  True,  True,  "moderate", "moderate",  0,    False),   # moderate risk
        ("p06", 80,  True,  True,  "moderate", "high",      1,    False),   # seen by GP
        ("p07", 80,  False, True,  "severe",   "high",      0,    False),   # died
        ("p08", 80,  True,  False, "severe",   "high",      0,    False),   # no longer registered
        ("p09", 80,  True,  True,  None,       "high",      0,    False),   # frailty unknown
        ("p10", 80,  True,  True,  "severe",   "high",      None, False),   # GP contacts unknown
    ],
    schema=["person_token", "age", "alive", "registered", "frailty_category", "risk_tier", "gp_contacts_6m", "expected"],
    orient="row",
)  # fmt: skip


def test_frail_65_high_risk_no_gp_6m() -> None:
    got = _run(_by_id("frail_65_high_risk_no_gp_6m"), {"features": FRAIL_FEATURES})
    assert set(got) == _expected(FRAIL_FEATURES)
    # The reason names the rules met, never the person's own values (released lists carry only the
    # fields the governance register approves, and a reason must not smuggle others in).
    rules = (
        "frailty_category in (moderate, severe); risk_tier in (very high, high); no GP contact in 6 months"
    )
    assert got["p01"] == got["p03"] == rules


# person  age  alive  registered  has_diabetes  expected
DIABETES_FEATURES = pl.DataFrame(
    [
        ("p01", 60, True, True, True,  True),    # no GP events at all
        ("p02", 60, True, True, True,  False),   # HbA1c in January
        ("p03", 60, True, True, True,  True),    # HbA1c one day before the 12-month window
        ("p04", 60, True, True, True,  False),   # HbA1c on the first day of the window
        ("p05", 60, True, True, True,  True),    # HbA1c only after the as-of date
        ("p06", 60, True, True, True,  True),    # only other codes recently
        ("p07", 60, True, True, False, False),   # no diabetes
        ("p08", 60, True, True, None,  False),   # diabetes flag unknown
        ("p09", 17, True, True, True,  False),   # under 18
    ],
    schema=["person_token", "age", "alive", "registered", "has_diabetes", "expected"],
    orient="row",
)  # fmt: skip
# person  event_date          snomed_code
GP_EVENTS = pl.DataFrame(
    [
        ("p02", date(2026, 1, 15),  "1049301000000100"),
        ("p03", date(2025, 6, 29),  "1003671000000109"),
        ("p04", date(2025, 6, 30),  "1049301000000100"),
        ("p05", date(2026, 7, 1),   "1049301000000100"),
        ("p06", date(2026, 5, 1),   "44054006"),
        ("p07", date(2026, 5, 1),   "1049301000000100"),
    ],
    schema=["person_token", "event_date", "snomed_code"],
    orient="row",
)  # fmt: skip


def test_diabetes_no_hba1c_12m() -> None:
    got = _run(_by_id("diabetes_no_hba1c_12m"), {"features": DIABETES_FEATURES, "gp_event": GP_EVENTS})
    assert set(got) == _expected(DIABETES_FEATURES)
    assert got["p01"] == "diabetes; no HbA1c in 12 months"


def _people(expected: dict[str, bool]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "person_token": list(expected),
            "alive": True,
            "registered": True,
            "expected": list(expected.values()),
        }
    )


# person: in cohort?   (A&E attendances and MH contacts below)
FREQUENT_AE = _people({
    "p01": True,    # 3 A&E in 6 months and an MH contact
    "p02": False,   # 2 A&E
    "p03": False,   # 3 A&E but one the day before the window
    "p04": True,    # 3 A&E, one on the window's first day
    "p05": False,   # 4 A&E, no MH contact
    "p06": False,   # 3 A&E, MH contact before the window
})  # fmt: skip
# person  arrival_date
AE = pl.DataFrame(
    [
        ("p01", date(2026, 1, 5)), ("p01", date(2026, 3, 5)), ("p01", date(2026, 6, 30)),
        ("p02", date(2026, 1, 5)), ("p02", date(2026, 3, 5)),
        ("p03", date(2025, 12, 29)), ("p03", date(2026, 3, 5)), ("p03", date(2026, 4, 5)),
        ("p04", date(2025, 12, 30)), ("p04", date(2026, 3, 5)), ("p04", date(2026, 4, 5)),
        ("p05", date(2026, 1, 5)), ("p05", date(2026, 2, 5)), ("p05", date(2026, 3, 5)), ("p05", date(2026, 4, 5)),
        ("p06", date(2026, 1, 5)), ("p06", date(2026, 3, 5)), ("p06", date(2026, 4, 5)),
    ],
    schema=["person_token", "arrival_date"],
    orient="row",
)  # fmt: skip
# person  contact_date
MH = pl.DataFrame(
    [("p01", date(2026, 2, 1)), ("p02", date(2026, 2, 1)), ("p03", date(2026, 2, 1)),
     ("p04", date(2026, 2, 1)), ("p06", date(2025, 10, 1))],
    schema=["person_token", "contact_date"],
    orient="row",
)  # fmt: skip


def test_frequent_ae_with_mh() -> None:
    got = _run(
        _by_id("frequent_ae_with_mh"), {"features": FREQUENT_AE, "ae_attendance": AE, "mh_contact": MH}
    )
    assert set(got) == _expected(FREQUENT_AE)
    assert got["p01"] == "3+ A&E attendances in 6 months; mental health contact in 6 months"


# person  alive  registered  tier         expected
TOP_TIER = pl.DataFrame(
    [
        ("p01", True,  True, "very high", True),    # social care contact in March
        ("p02", True,  True, "high",      False),   # not the top tier
        ("p03", True,  True, "very high", False),   # no social care
        ("p04", True,  True, "very high", False),   # social care only before the 12-month window
        ("p05", False, True, "very high", False),   # died
    ],
    schema=["person_token", "alive", "registered", "risk_tier", "expected"],
    orient="row",
)  # fmt: skip
# person  event_date
ASC = pl.DataFrame(
    [("p01", date(2026, 3, 1)), ("p02", date(2026, 3, 1)), ("p04", date(2025, 6, 29)), ("p05", date(2026, 3, 1))],
    schema=["person_token", "event_date"],
    orient="row",
)  # fmt: skip


def test_top_tier_social_care() -> None:
    got = _run(_by_id("top_tier_social_care"), {"features": TOP_TIER, "asc_event": ASC})
    assert set(got) == _expected(TOP_TIER)
    assert got["p01"] == "very high risk; social care contact in 12 months"


EMERGENCY_NOT_CANCER = """
id: emergency_twice_no_cancer
title: Two emergency admissions in 12 months, no cancer diagnosis, no dementia
description: exercises event filters, code columns and exclusions
purpose: ics-risk-stratification
population: {min_age: 18, max_age: 90, registered: null, alive: true}
include:
  - events: apc
    filter: emergency_only
    within_months: 12
    min_count: 2
exclude:
  - codes: cancer
    setting: apc
  - feature: has_dementia
    op: "="
    value: true
"""
# person  age  alive  registered  has_dementia  expected
EMERGENCY_FEATURES = pl.DataFrame(
    [
        ("p01", 70, True, True,  False, True),    # 2 emergency admissions
        ("p02", 70, True, True,  False, False),   # 1 emergency + 1 elective
        ("p03", 70, True, True,  False, False),   # cancer as a secondary diagnosis
        ("p04", 70, True, True,  True,  False),   # dementia excluded
        ("p05", 70, True, True,  None,  True),    # unknown dementia flag does not exclude
        ("p06", 70, True, False, False, True),    # registered: null -> no restriction
        ("p07", 91, True, True,  False, False),   # over max_age
    ],
    schema=["person_token", "age", "alive", "registered", "has_dementia", "expected"],
    orient="row",
)  # fmt: skip
# person  admission_date     is_emergency  primary_diagnosis  secondary_diagnosis
APC = pl.DataFrame(
    [
        ("p01", date(2026, 1, 1), True,  "J18", None),
        ("p01", date(2026, 2, 1), True,  "J44", "I10"),
        ("p02", date(2026, 1, 1), True,  "J18", None),
        ("p02", date(2026, 2, 1), False, "J44", None),
        ("p03", date(2026, 1, 1), True,  "J18", "C50"),
        ("p03", date(2026, 2, 1), True,  "J18", None),
        ("p04", date(2026, 1, 1), True,  "J18", None),
        ("p04", date(2026, 2, 1), True,  "J18", None),
        ("p05", date(2026, 1, 1), True,  "J18", None),
        ("p05", date(2026, 2, 1), True,  "J18", None),
        ("p06", date(2026, 1, 1), True,  "J18", None),
        ("p06", date(2026, 2, 1), True,  "J18", None),
        ("p07", date(2026, 1, 1), True,  "J18", None),
        ("p07", date(2026, 2, 1), True,  "J18", None),
    ],
    schema=["person_token", "admission_date", "is_emergency", "primary_diagnosis", "secondary_diagnosis"],
    orient="row",
)  # fmt: skip


def test_event_filters_code_columns_and_exclusions() -> None:
    definition = parse_definition(
        yaml.safe_load(EMERGENCY_NOT_CANCER),
        source="inline",
        allowed_codelists=CODELISTS,
        allowed_purposes=PURPOSES,
    )
    got = _run(definition, {"features": EMERGENCY_FEATURES, "apc_spell": APC})
    assert set(got) == _expected(EMERGENCY_FEATURES)
    assert got["p01"] == "2+ apc emergency_only events within 12 months"


@pytest.mark.parametrize("cohort_id", [p.stem for p in sorted(EXAMPLES.glob("*.yaml"))])
def test_values_are_bound_never_formatted(cohort_id: str) -> None:
    sql, params = compile(
        _by_id(cohort_id),
        features_table="features",
        allowed_features=DEFAULT_ALLOWED_FEATURES,
        allowed_codelists=CODELISTS,
        setting_tables=SETTINGS,
        as_of=AS_OF,
    )
    sql = re.sub(r'"[A-Za-z0-9_]+"', '"id"', re.sub(r"\$\d+", "$n", sql))  # placeholders, quoted identifiers
    for value in params:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | date) or (
                isinstance(item, int) and not isinstance(item, bool) and item > 1
            ):
                assert str(item) not in sql, item
    assert "'" not in sql.replace("'; '", "")  # the separator is the only literal string
