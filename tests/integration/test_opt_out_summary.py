"""On the shared load of the small ICS: the warehouse's opt-out tables hold only published counts,
account for every opted-out row of the ops files, and give no suppressed cell back by differencing,
alone or together with every other published table that counts the same rows (`reconciliation`,
`quarantine_summary`, the set-aside rates in `dq_results`, the activity tables' own rows)."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
from scipy.optimize import linprog

from core.disclosure import safe_count
from core.layout import Home
from linkage.warehouse.books import read_books
from linkage.warehouse.opt_outs import read_exact
from tests.fixtures.opt_out_attack import (
    SUMMARY_DIMS,
    _bounds,
    attack_areas,
    attack_summary,
    published_values,
)


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
    books = read_books(sorted(loaded.ops_kind("reconciliation").glob("*.parquet")))  # the exact books
    opted_out = int(books["opted_out"].sum())
    assert int(exact["rows"].sum()) == opted_out > 7  # every opted-out row of the books is counted
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


def _attack_with_books(
    summary: pl.DataFrame, recon: pl.DataFrame, rows_in: dict[str, int] | None = None
) -> dict[int, tuple[float, float]]:
    """The LP attack on `opt_out_summary` (every subtotal = the sum of its cells) together with each
    file's books as published: rows in = loaded + quarantined + excluded + the file's opted-out cell.
    A file's rows in is unknown to the attacker (any count >= 0) unless `rows_in` gives it (file ->
    count, as the warehouse published it before). Returns each suppressed row -> (least, greatest)."""
    rows = summary.to_dicts()
    cell = {tuple(r[d] for d in SUMMARY_DIMS): i for i, r in enumerate(rows)}
    files = recon.to_dicts()
    width = len(rows) + len(files)
    equalities, rhs = [], []
    for key, i in cell.items():
        for pos in (p for p, v in enumerate(key) if v is None):
            kids = [j for k, j in cell.items() if k[pos] is not None and all(
                k[q] == key[q] for q in range(len(key)) if q != pos)]  # fmt: skip
            if kids:
                eq = np.zeros(width)
                eq[i], eq[kids] = 1, -1
                equalities.append(eq)
                rhs.append(0)
    bounds = [_bounds(r) for r in rows]
    for f, r in enumerate(files):
        eq = np.zeros(width)
        eq[len(rows) + f] = 1
        if (r["source"], r["month"], None) in cell:  # else the file removed nobody: its cell is 0
            eq[cell[(r["source"], r["month"], None)]] = -1
        equalities.append(eq)
        rhs.append(r["loaded"] + r["quarantined"] + r["excluded"])
        known = None if rows_in is None else rows_in[r["file"]]
        bounds.append((0, None) if known is None else (known, known))
    ranges = {}
    for i, r in enumerate(rows):
        if r["suppression"] is None:
            continue
        c = np.zeros(width)
        c[i] = 1
        low = linprog(c, A_eq=np.array(equalities), b_eq=np.array(rhs), bounds=bounds, method="highs")
        high = linprog(-c, A_eq=np.array(equalities), b_eq=np.array(rhs), bounds=bounds, method="highs")
        assert low.status == 0 and high.status == 0
        ranges[i] = (low.fun, -high.fun)
    return ranges


def test_differencing_every_table_counting_the_same_rows_recovers_no_suppressed_cell(
    loaded: Home, warehouse: duckdb.DuckDBPyConnection
) -> None:
    summary = warehouse.sql("SELECT * FROM opt_out_summary").pl()
    recon = warehouse.sql("SELECT * FROM reconciliation ORDER BY file").pl()
    books = read_books(sorted(loaded.ops_kind("reconciliation").glob("*.parquet"))).sort("file")
    assert recon["file"].to_list() == books["file"].to_list() and recon["books_balance"].all()
    # No rows in and no per-route opt-outs per file; the records exactly as the exact books have them.
    assert not {"rows_in", "opted_out_ndoo", "opted_out_type1"} & set(recon.columns)
    for column in (
        "loaded",
        "quarantined",
        "excluded",
        "excluded_duplicate",
        "excluded_practice_not_sharing",
    ):
        assert recon[column].to_list() == books[column].to_list(), column
    # Each file's opt-outs are its source x month cell of opt_out_summary, published the same.
    cells = summary.filter(
        pl.col("source").is_not_null() & pl.col("month").is_not_null() & pl.col("route").is_null()
    )
    same = recon.join(cells, on=["source", "month"], how="inner")
    assert same.height == cells.height > 0
    assert same["opted_out_display"].to_list() == same["rows_display"].to_list()
    assert same["opted_out_suppression"].to_list() == same["suppression"].to_list()
    assert published_values(recon.rename({"opted_out": "rows"}).select("rows")) == []
    # quarantine_summary and the set-aside rates in dq_results add nothing the records do not say.
    by_file = warehouse.sql("SELECT file, sum(rows) AS n FROM quarantine_summary GROUP BY file").pl()
    assert dict(by_file.iter_rows()) == {
        f: q for f, q in recon.select("file", "quarantined").iter_rows() if q
    }
    rates = warehouse.sql(
        "SELECT replace(asset, 'source/', '') AS source, expectation, rows_evaluated, rows_failed "
        "FROM dq_results WHERE expectation IN ('quarantine_rate', 'duplicate_rows_excluded')"
    ).pl()
    sums = recon.group_by("source").agg(
        (pl.col("loaded") + pl.col("quarantined") + pl.col("excluded")).sum().alias("considered"),
        pl.col("quarantined").sum(), pl.col("excluded_duplicate").sum(),
    )  # fmt: skip
    assert rates.height >= 2 * sums.height
    for r in rates.join(sums, on="source").iter_rows(named=True):
        failed = r["quarantined"] if r["expectation"] == "quarantine_rate" else r["excluded_duplicate"]
        assert (r["rows_evaluated"], r["rows_failed"]) == (r["considered"], failed), r
    # The attacker holding all of it (rows in unknown) keeps every suppressed cell's whole 1-7 range...
    ranges = _attack_with_books(summary, recon)
    assert len(ranges) == summary["suppression"].is_not_null().sum() > 0
    assert all(hi - lo >= 6 for lo, hi in ranges.values()), ranges
    # ... and the attack has teeth: with each file's rows in, as the warehouse used to publish it, the
    # suppressed cells come back.
    exact_rows_in = dict(books.select("file", "rows_in").iter_rows())
    leaked = _attack_with_books(summary, recon, exact_rows_in)
    assert sum(hi - lo < 6 for lo, hi in leaked.values()) > 0, leaked
