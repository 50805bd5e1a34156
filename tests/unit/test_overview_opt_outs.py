"""The overview site's "who is missing" figure takes opt-outs as the warehouse publishes them
(`opt_out_by_area`): each area its own node, never a sum of its practices' published values."""

from __future__ import annotations

import polars as pl

from cohort.overview_data import OPT_OUT_MEASURE, Area, Cells, missing_table
from tests.fixtures.overview_cells import MISSING, PLACES

OPT_OUTS = pl.DataFrame(
    [("practice", "P1", None, "*"), ("practice", "P2", 40, "40"), ("practice", "P3", 20, "20"),
     ("pcn", "A", 45, "45"), ("pcn", "B", 20, "20"), ("place", "X", 45, "45"), ("place", "Y", 20, "20")],
    schema={"level": pl.String, "area": pl.String, "n": pl.Int64, "n_display": pl.String},
    orient="row",
)  # fmt: skip
CELLS = Cells(pl.DataFrame(), MISSING, pl.DataFrame(), OPT_OUTS)


def _opt_outs(area: Area) -> list[tuple[str, int | None, str]]:
    table = missing_table(CELLS, area, PLACES).filter(pl.col("measure") == OPT_OUT_MEASURE)
    return table.select("place", "n", "n_display").rows()


def test_each_area_shows_its_own_published_node() -> None:
    everyone = frozenset(PLACES)
    assert _opt_outs(Area("all", "all", "Whole ICS", everyone)) == [("X", 45, "45"), ("Y", 20, "20")]
    assert _opt_outs(Area("place:X", "place", "X", frozenset({"P1", "P2"}))) == [("X", 45, "45")]
    assert _opt_outs(Area("pcn:A", "pcn", "A (A)", frozenset({"P1", "P2"}))) == [("X", 45, "45")]
    assert _opt_outs(Area("practice:P1", "practice", "P1", frozenset({"P1"}))) == [("X", None, "*")]


def test_the_other_measures_are_still_protected_from_their_cells() -> None:
    table = missing_table(CELLS, Area("all", "all", "Whole ICS", frozenset(PLACES)), PLACES)
    traced = table.filter(pl.col("measure") == "not traced (pseudo-ID)").select("place", "n_display").rows()
    assert sorted(traced) == [("X", "20"), ("Y", "30")]  # 12 + 9 = 21 -> 20; 30
