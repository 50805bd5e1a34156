"""linkage.linkage_quality on inline tables: counts by source, ethnic group and IMD quintile (each
record's route: NHS number, exact, Splink, national DBS trace, clustered into a person, unmatched), and
the disclosure-protected rates."""

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
        "traced_probabilistic": 10, "traced_national": 0, "clustered": 0, "unmatched": 3,
    }  # fmt: skip
    assert by[("ethnic_group", "Unknown")]["unmatched"] == 3
    assert by[("imd_quintile", "1")]["records"] == 20
    assert by[("imd_quintile", "5")]["traced_probabilistic"] == 10


def _routes_home(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """apc and ecds months: a DBS-traced person, a cluster that gave a number, a cluster person seen by
    both feeds (C1), one seen in two apc months (C2), and one seen once (U9: unmatched)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE person AS SELECT * FROM (VALUES ('D1', 'Black', 1), ('K1', 'Black', 1), "
        "('C1', 'Black', 1), ('C2', 'White', 9), ('U9', 'White', 9)) AS t(person_token, ethnic_group, imd_decile)"
    )
    staged = tmp_path / "staged"
    files = {
        ("apc", "2026-01"): [("D1", "dbs"), ("K1", "clustered"), ("C1", "unmatched"), ("C2", "unmatched")],
        ("apc", "2026-02"): [("C2", "unmatched"), ("U9", "unmatched"), ("D1", "dbs")],
        ("ecds", "2026-01"): [("C1", "unmatched"), ("C1", "unmatched")],
    }
    for (source, month), rows in files.items():
        (staged / source).mkdir(parents=True, exist_ok=True)
        pl.DataFrame(rows, schema=["person_token", "link_method"], orient="row").write_parquet(
            staged / source / f"{month}.parquet"
        )
    return con, staged


def test_each_route_is_counted_apart(tmp_path: Path) -> None:
    con, staged = _routes_home(tmp_path)
    counts = linkage_counts(con, staged)
    by = {(r["dimension"], r["value"]): r for r in counts.iter_rows(named=True)}
    assert by[("source", "apc")] == {
        "dimension": "source", "value": "apc", "records": 7, "no_valid_nhs": 7, "traced_exact": 0,
        "traced_probabilistic": 0, "traced_national": 2, "clustered": 4, "unmatched": 1,
    }  # fmt: skip
    # C1's two ecds records share a pseudo-ID with apc: one person across sources.
    assert by[("source", "ecds")]["clustered"] == 2 and by[("source", "ecds")]["unmatched"] == 0
    assert by[("ethnic_group", "White")]["clustered"] == 2 and by[("ethnic_group", "White")]["unmatched"] == 1


def test_one_batch_only_is_unmatched_even_with_many_records(tmp_path: Path) -> None:
    con, staged = _routes_home(tmp_path)
    (staged / "ecds" / "2026-01.parquet").unlink()
    counts = linkage_counts(con, staged)
    apc = counts.filter(pl.col("value") == "apc").row(0, named=True)
    assert (apc["clustered"], apc["unmatched"]) == (3, 2)  # C1 now in apc 2026-01 alone


def test_the_build_tables_batch_by_source_month(tmp_path: Path) -> None:
    con, _ = _routes_home(tmp_path)
    con.execute(
        "CREATE TEMP TABLE stg_csds AS SELECT * FROM (VALUES ('C2', 'unmatched', '2026-01'), "
        "('C2', 'unmatched', '2026-02'), ('U9', 'unmatched', '2026-01'), ('U9', 'unmatched', '2026-01')) "
        "AS t(person_token, link_method, source_month)"
    )
    counts = linkage_counts(con, None, sources=["csds"])
    csds = counts.filter(pl.col("value") == "csds").row(0, named=True)
    assert (csds["records"], csds["clustered"], csds["unmatched"]) == (4, 2, 2)


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
    assert apc["national_pct"] == 0.0 and apc["clustered_pct"] == 0.0
    text = rates_markdown(rates)
    assert "| source | apc | 35 | 15 | * | 66.7 | 0.0 | 0.0 | * |" in text


def test_zero_counts_publish_zero_shares() -> None:
    counts = pl.DataFrame(
        {"dimension": ["source"], "value": ["csds"], "records": [100], "no_valid_nhs": [0],
         "traced_exact": [0], "traced_probabilistic": [0], "traced_national": [0], "clustered": [0],
         "unmatched": [0]}
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
            "traced_probabilistic": [30, 10, 20, 0, 30, 30],
            "traced_national": [10, 10, 0, 0, 0, 0],
            "clustered": [10, 10, 0, 0, 0, 0],
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
