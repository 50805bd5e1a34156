"""On the shared load of the small ICS: the warehouse's opt-out tables hold only published counts,
account for every opted-out row of the ops files, and give no suppressed cell back by differencing."""

from __future__ import annotations

import duckdb
import polars as pl

from core.disclosure import safe_count
from core.layout import Home
from linkage.warehouse.opt_outs import read_exact
from tests.fixtures.opt_out_attack import attack_areas, attack_summary, published_values


def test_opt_out_tables_publish_no_small_number_and_keep_the_exact_total(
    loaded: Home, warehouse: duckdb.DuckDBPyConnection
) -> None:
    summary = warehouse.sql("SELECT * FROM opt_out_summary").pl()
    by_area = warehouse.sql("SELECT * FROM opt_out_by_area").pl()
    assert "practice_code" not in summary.columns and "file" not in summary.columns
    assert summary.height and by_area.height
    for table in (summary, by_area):
        assert published_values(table) == []  # null, 0 or a multiple of 5 from 10 up: never 1-7
        shown = table.select(pl.col("rows").cast(pl.String).fill_null("*")).to_series()
        assert table["rows_display"].to_list() == shown.to_list()  # suppressed: "*", else the number
    exact = read_exact(sorted(loaded.ops_kind("opt_outs").glob("*.parquet")))
    ((opted_out,),) = warehouse.sql("SELECT sum(opted_out) FROM reconciliation").fetchall()
    assert int(exact["rows"].sum()) == int(opted_out) > 7  # every opted-out row of the books is counted
    ics = summary.filter(pl.col("source").is_null() & pl.col("month").is_null() & pl.col("route").is_null())
    assert ics["rows"].to_list() == [safe_count(int(opted_out))]
    assert by_area.filter(pl.col("level") == "ics")["rows"].to_list() == [safe_count(int(opted_out))]
    months = sorted(set(exact["month"]))
    assert by_area.select("first_month", "last_month").unique().rows() == [(months[0], months[-1])]


def test_differencing_the_opt_out_tables_recovers_no_suppressed_cell(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    summary = warehouse.sql("SELECT * FROM opt_out_summary").pl()
    ranges = attack_summary(summary)
    assert len(ranges) == summary["suppression"].is_not_null().sum() > 0
    assert all(hi - lo >= 6 for lo, hi in ranges.values()), ranges
    by_area = warehouse.sql("SELECT * FROM opt_out_by_area").pl()
    # which practice sits in which PCN and place is public (ODS); unknown ones sit under unknown
    paths = warehouse.sql(
        "SELECT coalesce(CASE WHEN r.pcn_code IS NULL THEN NULL ELSE r.place END, 'unknown') AS place, "
        "coalesce(r.pcn_code, 'unknown') AS pcn_code, a.area AS practice_code FROM opt_out_by_area AS a "
        "LEFT JOIN ref_practice AS r ON r.practice_code = a.area WHERE a.level = 'practice'"
    ).pl()
    area_ranges = attack_areas(by_area, paths)  # over the whole period few practices are small
    assert len(area_ranges) == by_area["suppression"].is_not_null().sum()
    assert all(hi - lo >= 6 for lo, hi in area_ranges.values()), area_ranges
