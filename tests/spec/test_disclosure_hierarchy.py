"""Related tables (people by practice ⊂ PCN ⊂ place, and the ICS total) protected together: differencing
one table against another recovers no suppressed cell (`core.disclosure.protect_hierarchy`, used by
`cohort.aggregates.people_aggregates` for the published `agg_people_by_*` tables)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cohort.aggregates import HIERARCHY, people_aggregates
from core.disclosure import protect_hierarchy, protect_table
from tests.fixtures.differencing import attack

LEVELS = ["place", "pcn_code", "practice_code"]

# place  pcn  practice  people   what the attacker would do without secondary suppression
SPEC = [
    ("P1", "N1", "A", 5),    # primary (1-7)
    ("P1", "N1", "B", 30),   # secondary: N1 - B - C would give A back
    ("P1", "N1", "C", 40),
    ("P1", "N2", "D", 50),   # N2 = D + E: nothing suppressed, nothing to protect
    ("P1", "N2", "E", 60),
    ("P2", "N3", "F", 3),    # F is N3's only practice: N3 = F, so N3 is suppressed too, ...
    ("P2", "N4", "G", 20),   # ... then P2 - N4 would give N3 back: N4 suppressed, then G
    ("P2", "N4", "H", 25),
]  # fmt: skip


def _frame(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=[*LEVELS, "n"], orient="row")


def _suppressed(table: pl.DataFrame, level: str) -> dict[str | None, str | None]:
    return dict(zip(table[level].to_list(), table["suppression"].to_list(), strict=True))


def test_each_parent_and_its_children_hold_zero_or_two_suppressed_cells() -> None:
    out = protect_hierarchy(_frame(SPEC), LEVELS)
    assert _suppressed(out["practice_code"], "practice_code") == {
        "A": "primary", "B": "secondary", "C": None, "D": None, "E": None,
        "F": "primary", "G": "secondary", "H": None, None: None,
    }  # fmt: skip
    assert _suppressed(out["pcn_code"], "pcn_code") == {
        "N1": None,
        "N2": None,
        "N3": "primary",
        "N4": "secondary",
        None: None,
    }
    assert _suppressed(out["place"], "place") == {"P1": None, "P2": None, None: None}
    # published values: rounded to 5, totals from the unrounded counts (233 -> 235), suppressed as null
    assert out["pcn_code"]["n"].to_list() == [75, 110, None, None, 235]
    assert out["pcn_code"]["n_display"].to_list() == ["75", "110", "*", "*", "235"]
    assert out["place"]["total"].to_list() == [False, False, True]


def test_a_child_under_two_parents_is_refused() -> None:
    rows = [("P1", "N1", "A", 10), ("P2", "N1", "B", 10)]
    with pytest.raises(ValueError, match="pcn_code 'N1' sits under more than one place"):
        protect_hierarchy(_frame(rows), LEVELS)


def _population(seed: int) -> pl.DataFrame:
    """About 60 practices in 12 PCNs in 3 places, sizes from 1 to ~400: many small cells to protect."""
    rng = np.random.default_rng(seed)
    rows = []
    for practice in range(60):
        pcn = practice // 5
        size = int(rng.choice([rng.integers(1, 8), rng.integers(8, 40), rng.integers(40, 400)]))
        rows.append((f"P{pcn % 3}", f"N{pcn}", f"A{practice:02d}", size))
    return _frame(rows)


def _narrowest(ranges: dict[tuple[str, str | None], tuple[float, float]]) -> float:
    return min(hi - lo for lo, hi in ranges.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_differencing_the_related_tables_recovers_no_suppressed_cell(seed: int) -> None:
    truth = _population(seed)
    ranges = attack(protect_hierarchy(truth, LEVELS), truth, LEVELS)
    assert len(ranges) >= 10
    # every suppressed cell keeps at least its whole 1-7 range of doubt (6 wide), never pinned down
    assert _narrowest(ranges) >= 6


def test_tables_protected_one_at_a_time_do_leak_by_differencing() -> None:
    """Why the tables are protected together: one at a time, a PCN minus its practices narrows a
    suppressed practice to within a few people."""
    truth = _population(1)
    apart = {level: protect_table(truth.group_by(level).agg(pl.col("n").sum()), [level]) for level in LEVELS}
    assert _narrowest(attack(apart, truth, LEVELS)) < 6


def test_published_people_aggregates_nest_practice_pcn_and_place() -> None:
    people = pl.DataFrame(
        {
            "practice_code": ["A"] * 20 + ["B"] * 3 + [None] * 9,
            "pcn_code": ["N1"] * 23 + ["N9"] * 9,  # a PCN without a practice is unknown, as is its place
            "place": ["P1"] * 23 + ["P9"] * 9,
            "imd_quintile": [1] * 16 + [2] * 16,
            "ethnic_group": ["A"] * 32,
            "risk_tier": ["rest"] * 32,
        }
    )
    out = people_aggregates(people)
    assert list(out) == ["practice_code", "pcn_code", "place", "imd_quintile", "ethnic_group", "risk_tier"]
    assert HIERARCHY == ("place", "pcn_code", "practice_code")
    practice = out["practice_code"]
    assert practice.select("practice_code", "n", "suppression").rows() == [
        ("A", None, "secondary"),
        ("B", None, "primary"),
        ("unknown", 10, None),
        (None, 30, None),
    ]  # fmt: skip  (N1 = A + B: A goes too, or N1 minus A would give B)
    assert out["pcn_code"].select("pcn_code", "n").rows() == [("N1", 25), ("unknown", 10), (None, 30)]
    assert out["place"].select("place", "n").rows() == [("P1", 25), ("unknown", 10), (None, 30)]
