"""The overview site restricts the practice-level cells to an area once (`within`) and builds that area's
tables from the restriction: every table must be exactly what the whole cells give for the area."""

from __future__ import annotations

import polars as pl
import pytest

from cohort.overview_data import (
    Area,
    Cells,
    cohort_table,
    missing_table,
    people_table,
    published_total,
    rates_by,
    within,
)
from tests.fixtures.overview_cells import MISSING, PLACES

PEOPLE = pl.DataFrame(
    [("P1", "70-79", "female", "1", "White", "high", True, 9, 4), ("P1", "0-9", "male", "5", "Asian", "low", False, 3, 0),
     ("P2", "70-79", "female", "1", "White", "high", True, 40, 12), ("P2", "20-29", "male", "2", "Black", "low", False, 14, 1),
     ("P3", "70-79", "female", "3", "White", "moderate", True, 2, 2), ("P3", "0-9", "female", "5", "Mixed", "low", False, 60, 3)],
    schema={"practice_code": pl.String, "age_band": pl.String, "sex": pl.String, "imd_quintile": pl.String,
            "ethnic_group": pl.String, "risk_tier": pl.String, "has_ltc": pl.Boolean, "n": pl.Int64,
            "emergency": pl.Int64},
    orient="row",
)  # fmt: skip
COHORTS = pl.DataFrame(
    [("P1", "frail", 6), ("P2", "frail", 30), ("P3", "hba1c", 11)],
    schema={"practice_code": pl.String, "cohort_id": pl.String, "n": pl.Int64},
    orient="row",
)
OPT_OUTS = pl.DataFrame(
    [("practice", "P1", 10, "10"), ("pcn", "A", 10, "10"), ("place", "X", 10, "10")],
    schema={"level": pl.String, "area": pl.String, "n": pl.Int64, "n_display": pl.String},
    orient="row",
)
CELLS = Cells(PEOPLE, MISSING, COHORTS, OPT_OUTS)
AREAS = [
    Area("all", "all", "Whole ICS", frozenset(PLACES)),
    Area("place:X", "place", "X", frozenset({"P1", "P2"})),
    Area("practice:P1", "practice", "P1", frozenset({"P1"})),
    Area("practice:P3", "practice", "P3", frozenset({"P3"})),
]


@pytest.mark.parametrize("area", AREAS, ids=lambda a: a.key)
def test_every_table_from_the_restricted_cells_equals_the_whole_cells(area: Area) -> None:
    mine = within(CELLS, area)
    assert set(mine.people["practice_code"]) == set(area.practices)
    for by in (["age_band", "sex"], ["risk_tier"]):
        assert people_table(mine, area, by).equals(people_table(CELLS, area, by))
    assert missing_table(mine, area, PLACES).equals(missing_table(CELLS, area, PLACES))
    assert cohort_table(mine, area).equals(cohort_table(CELLS, area))
    for dimension in ("imd_quintile", "ethnic_group"):
        assert rates_by(mine, area, dimension).equals(rates_by(CELLS, area, dimension))
    assert published_total(mine, area) == published_total(CELLS, area)
    assert published_total(mine, area, risk_tiers=("high",)) == published_total(
        CELLS, area, risk_tiers=("high",)
    )


def test_the_whole_ics_total_is_protected_from_unrounded_cells() -> None:
    assert published_total(within(CELLS, AREAS[0]), AREAS[0]) == "130"  # 9 + 3 + 40 + 14 + 2 + 60 = 128
    assert published_total(within(CELLS, AREAS[2]), AREAS[2]) == "10"  # 9 + 3 = 12
    assert published_total(within(CELLS, AREAS[3]), AREAS[3], risk_tiers=("moderate",)) == "*"  # 2
