"""The disclosure-risk report: k-anonymity class sizes on the warehouse's quasi-identifiers, counts
under disclosure control, written to HOME/reports/ and summarised in one line."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

from core.layout import Home
from quality.disclosure_risk import measure, summary_line, write_report


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    # 20 people alike on everything, 10 unique on birth month, 3 more sharing one class of 3
    people = pl.DataFrame(
        {
            "birth_year_month": ["1950-01"] * 20 + [f"1960-{m:02d}" for m in range(1, 11)] + ["1970-05"] * 3,
            "sex": ["F"] * 33,
            "lsoa21": ["E01000001"] * 33,
            "practice_code": ["A81001"] * 33,
            "ethnic_category": ["A"] * 33,
        }
    )
    con = duckdb.connect(str(path))
    con.register("people", people)
    con.sql("CREATE TABLE person AS SELECT * FROM people")
    return con


def test_people_by_class_size_are_counted_and_protected(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb")
    full, month_sex_lsoa, year_sex_practice = measure(con)
    # k=1: 10 people (published 10); k=2-4: 3 (suppressed), so the line gets a second suppressed cell:
    # the smallest non-zero other one, k=1's 10; 5-9: 0; 10+: 20; total 33 -> 35
    assert full.people_by_k == {"1": None, "2-4": None, "5-9": 0, "10+": 20}
    assert full.people == 35
    assert full.share_below_k == round(100 * 13 / 33, 1) == 39.4
    assert month_sex_lsoa.people_by_k == full.people_by_k
    # by birth year: 1950 (20), 1960 (10), 1970 (3): nobody is unique
    assert year_sex_practice.people_by_k == {"1": 0, "2-4": None, "5-9": 0, "10+": None}
    assert year_sex_practice.share_below_k == 9.1


def test_the_report_is_written_and_summarised(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").prepare()
    write_report(home, _warehouse(tmp_path / "w.duckdb"))
    report = json.loads((home.reports / "disclosure_risk.json").read_text())
    assert report["k_threshold"] == 5 and [s["name"] for s in report["sets"]] == [
        "all", "birth_month_sex_lsoa", "birth_year_sex_practice",
    ]  # fmt: skip
    markdown = (home.reports / "disclosure_risk.md").read_text()
    assert (
        "| birth year-month, sex, LSOA, practice, ethnic category | 35 | * | * | 0 | 20 | 39.4 |" in markdown
    )
    assert summary_line(home) == (
        "Disclosure risk: 39.4% of 35 people have k < 5 on (birth year-month, sex, LSOA, practice, "
        f"ethnic category); report {home.reports / 'disclosure_risk.md'}"
    )


def test_no_report_no_summary(tmp_path: Path) -> None:
    assert summary_line(Home(tmp_path / "home").prepare()) is None
