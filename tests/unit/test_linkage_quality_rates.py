"""linkage.linkage_quality on inline tables: counts by source, ethnic group and IMD quintile, and the
disclosure-protected rates."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from linkage.linkage_quality import linkage_counts, linkage_rates, protect, rates_markdown


def _con(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE person AS SELECT * FROM (VALUES ('P1', 'White', 1), ('P2', 'Asian', 10), "
        "('U1', NULL, NULL)) AS t(person_token, ethnic_group, imd_decile)"
    )
    staged = tmp_path / "staged"
    (staged / "apc").mkdir(parents=True)
    pl.DataFrame(
        {
            "person_token": ["P1"] * 20 + ["P2"] * 10 + ["U1"] * 3,
            "link_method": ["nhs_number"] * 18
            + ["exact_name_dob"] * 2
            + ["probabilistic"] * 10
            + ["unmatched"] * 3,
        }
    ).write_parquet(staged / "apc" / "2026-01.parquet")
    return con, staged


def test_counts_by_dimension(tmp_path: Path) -> None:
    con, staged = _con(tmp_path)
    counts = linkage_counts(con, staged)
    by = {(r["dimension"], r["value"]): r for r in counts.iter_rows(named=True)}
    assert by[("source", "apc")] == {
        "dimension": "source", "value": "apc", "records": 33, "no_valid_nhs": 15, "traced_exact": 2,
        "traced_probabilistic": 10, "unmatched": 3,
    }  # fmt: skip
    assert by[("ethnic_group", "Unknown")]["unmatched"] == 3
    assert by[("imd_quintile", "1")]["records"] == 20
    assert by[("imd_quintile", "5")]["traced_probabilistic"] == 10


def test_staged_tables_are_preferred(tmp_path: Path) -> None:
    con, _ = _con(tmp_path)
    con.execute("CREATE TEMP TABLE stg_asc_cld AS SELECT 'P1' AS person_token, 'unmatched' AS link_method")
    counts = linkage_counts(con, None)
    assert counts.filter(pl.col("dimension") == "source")["value"].to_list() == ["asc_cld"]


def test_rates_are_rounded_and_suppressed(tmp_path: Path) -> None:
    con, staged = _con(tmp_path)
    rates = linkage_rates(con, staged)
    apc = rates.filter((pl.col("dimension") == "source") & (pl.col("value") == "apc")).row(0, named=True)
    assert apc["records"] == 35 and apc["no_valid_nhs"] == 15  # 33 -> 35, 15 stays
    assert apc["traced_exact"] is None and apc["traced_exact_display"] == "*"  # 2 suppressed
    assert apc["exact_pct"] is None  # never derived from a suppressed count
    assert apc["probabilistic_pct"] == round(100 * 10 / 15, 1)
    text = rates_markdown(rates)
    assert "| source | apc | 35 | 15 | * | 66.7 | * |" in text


def test_zero_counts_publish_zero_shares() -> None:
    counts = pl.DataFrame(
        {"dimension": ["source"], "value": ["csds"], "records": [100], "no_valid_nhs": [0],
         "traced_exact": [0], "traced_probabilistic": [0], "unmatched": [0]}
    )  # fmt: skip
    row = protect(counts).row(0, named=True)
    assert row["no_valid_nhs_pct"] == 0.0 and row["exact_pct"] is None


def test_linked_share_gap_to_best_group_and_fairness_warning() -> None:
    from linkage.linkage_quality import fairness_warnings

    counts = pl.DataFrame(
        {
            "dimension": [
                "source",
                "ethnic_group",
                "ethnic_group",
                "ethnic_group",
                "imd_quintile",
                "imd_quintile",
            ],
            "value": ["apc", "White", "Black", "Unknown", "1", "5"],
            "records": [2000, 1000, 500, 100, 1000, 1000],
            "no_valid_nhs": [200, 100, 100, 100, 100, 100],
            "traced_exact": [100, 50, 50, 0, 50, 50],
            "traced_probabilistic": [50, 30, 20, 0, 30, 30],
            "unmatched": [50, 20, 30, 100, 20, 30],
        }
    )
    rates = protect(counts)
    by = {(r["dimension"], r["value"]): r for r in rates.iter_rows(named=True)}
    assert by[("ethnic_group", "White")]["linked_pct"] == 98.0
    assert by[("ethnic_group", "Black")]["linked_pct"] == 94.0
    assert by[("ethnic_group", "Black")]["linked_gap_pp"] == 4.0
    assert by[("ethnic_group", "White")]["linked_gap_pp"] == 0.0
    assert by[("ethnic_group", "Unknown")]["linked_gap_pp"] is None  # not a group to compare with
    assert by[("source", "apc")]["linked_gap_pp"] is None
    assert by[("imd_quintile", "5")]["linked_gap_pp"] == 1.0
    assert fairness_warnings(rates) == [
        "ethnic_group Black: 94.0 % of records linked, 4.0 points below the best group"
    ]
    assert fairness_warnings(rates, limit=0.5) == [
        "ethnic_group Black: 94.0 % of records linked, 4.0 points below the best group",
        "imd_quintile 5: 97.0 % of records linked, 1.0 points below the best group",
    ]
    assert "| gap to best (points) |" in rates_markdown(rates)
