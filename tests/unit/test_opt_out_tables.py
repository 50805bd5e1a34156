"""The warehouse's opt-out tables from inline exact counts: coarsened, protected, and safe against
differencing (linkage/warehouse/opt_outs.py)."""

from __future__ import annotations

import polars as pl

from linkage.warehouse.opt_outs import opt_out_tables
from tests.fixtures.opt_out_attack import attack_areas, attack_summary, published_values

_SCHEMA = {
    "source": pl.String,
    "month": pl.String,
    "practice_code": pl.String,
    "route": pl.String,
    "rows": pl.Int64,
}
# Exact per-file counts as the ops files hold them: mostly small, as at the real grain.
EXACT = pl.DataFrame(
    [
        ("gp_events", "2025-01", "P1", "ndoo", 40),
        ("gp_events", "2025-01", "P2", "ndoo", 3),
        ("gp_events", "2025-02", "P1", "ndoo", 38),
        ("gp_events", "2025-02", "P3", "type1", 12),
        ("apc", "2025-01", "P4", "ndoo", 2),
        ("apc", "2025-02", "P4", "type1", 9),
        ("asc_cld", "2025-02", None, "ndoo", 1),  # social care rows carry no practice
    ],
    schema=_SCHEMA,
    orient="row",
)
PRACTICES = pl.DataFrame(
    {"practice_code": ["P1", "P2", "P3", "P4", "P5"], "pcn_code": ["A", "A", "B", "C", "C"],
     "place": ["X", "X", "X", "Y", "Y"]}
)  # fmt: skip
PATHS = pl.DataFrame(
    {"place": ["X", "X", "X", "Y", "unknown"], "pcn_code": ["A", "A", "B", "C", "unknown"],
     "practice_code": ["P1", "P2", "P3", "P4", "unknown"]}
)  # fmt: skip


def test_the_ics_table_is_source_by_month_and_by_route_with_subtotals_protected() -> None:
    summary = opt_out_tables(EXACT, PRACTICES)["opt_out_summary"]
    assert summary.columns == ["source", "month", "route", "rows", "rows_display", "suppression", "total"]
    assert summary.height == 3 * 2 + 3 + 2 + 1 + 2  # source x month, per source, per month, ICS, per route
    assert published_values(summary) == []
    shown = {(r["source"], r["month"], r["route"]): r["rows_display"] for r in summary.iter_rows(named=True)}
    assert shown[(None, None, None)] == "105"  # 40+3+38+12+2+9+1, rounded once
    assert shown[(None, "2025-01", None)] == "45"  # 45
    assert (shown[(None, None, "ndoo")], shown[(None, None, "type1")]) == ("85", "20")  # 84, 21
    assert shown[("gp_events", None, None)] == "95"  # 93
    assert shown[("apc", "2025-01", None)] == "*"  # 2: primary
    assert (
        shown[("apc", "2025-02", None)] == "*"
    )  # 9, but alone with the 2 in apc's row it would give it away
    assert shown[("asc_cld", "2025-01", None)] == "0"
    assert summary["suppression"].is_not_null().sum() == 7


def test_the_area_table_is_one_hierarchy_over_the_whole_period() -> None:
    by_area = opt_out_tables(EXACT, PRACTICES)["opt_out_by_area"]
    assert published_values(by_area) == []
    assert set(by_area["first_month"]) == {"2025-01"} and set(by_area["last_month"]) == {"2025-02"}
    shown = {(r["level"], r["area"]): r["rows_display"] for r in by_area.iter_rows(named=True)}
    assert shown == {
        ("place", "X"): "95", ("place", "Y"): "*", ("place", "unknown"): "*",
        ("pcn", "A"): "80", ("pcn", "B"): "10", ("pcn", "C"): "*", ("pcn", "unknown"): "*",
        ("practice", "P1"): "*", ("practice", "P2"): "*", ("practice", "P3"): "10", ("practice", "P4"): "*",
        ("practice", "unknown"): "*", ("ics", None): "105",
    }  # fmt: skip


def test_differencing_either_table_recovers_no_suppressed_cell() -> None:
    tables = opt_out_tables(EXACT, PRACTICES)
    summary_ranges = attack_summary(tables["opt_out_summary"])
    assert len(summary_ranges) == 7
    assert all(hi - lo >= 6 for lo, hi in summary_ranges.values()), summary_ranges
    area_ranges = attack_areas(tables["opt_out_by_area"], PATHS)
    assert len(area_ranges) == 8
    assert all(hi - lo >= 6 for lo, hi in area_ranges.values()), area_ranges


def test_no_opt_outs_give_empty_tables() -> None:
    tables = opt_out_tables(EXACT.clear(), PRACTICES)
    assert {name: t.height for name, t in tables.items()} == {"opt_out_summary": 0, "opt_out_by_area": 0}
