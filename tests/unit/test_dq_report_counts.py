"""The data quality report shows only published counts and rates: rendered from the small inline
warehouse (tests/fixtures/staged_home.py) with its people multiplied so that some counts are over 7,
two failing checks planted with known counts, and the values handed to the template read back."""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

import duckdb
import pytest

import quality.report as report
from core.layout import Home
from quality import write_report
from quality.report_data import ethnicity
from tests.fixtures.html_tables import shown_as_count
from tests.fixtures.staged_home import build, write_home

RUN_AT = datetime(2025, 3, 1, 6)
# (expectation, rows evaluated, rows failed): 3 failed rows are suppressed, so is the pass % they make
PLANTED = (("planted_small", 203, 3), ("planted_large", 1000, 40))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, Home]:
    tmp = tmp_path_factory.mktemp("dq_counts")
    dirs = write_home(tmp / "home")
    home = Home(tmp / "home")
    out = tmp / "w.duckdb"
    build(dirs, out)  # no quality run: the only check results are the two planted below
    shutil.copy(out, tmp / "grown.duckdb")
    con = duckdb.connect(str(tmp / "grown.duckdb"))
    # 13 of each person (A, B at A00001 make 26 there), then 3 of A00001's without a stated ethnicity
    con.execute(
        "INSERT INTO person SELECT p.* REPLACE ('P1-' || lpad(CAST(r.range AS VARCHAR), 2, '0') "
        "|| substr(p.person_token, 6) AS person_token) FROM person AS p, range(12) AS r"
    )
    con.execute(
        "UPDATE person SET ethnic_category = NULL WHERE person_token IN (SELECT person_token FROM person "
        "WHERE practice_code = 'A00001' ORDER BY person_token LIMIT 3)"
    )
    for expectation, evaluated, failed in PLANTED:
        con.execute(
            "INSERT INTO dq_results (run_id, run_at, asset, expectation, category, kind, engine, rows_evaluated, "
            "rows_failed, pass_pct, threshold, severity, outcome) VALUES ('R1', ?, 'warehouse/person', ?, "
            "'validity', 'not_null', 'sql', ?, ?, ?, 0.999, 'warn', 'warn')",
            [RUN_AT, expectation, evaluated, failed, 100.0 * (evaluated - failed) / evaluated],
        )
    return con, home


def test_every_count_the_report_shows_is_published(
    warehouse: tuple[duckdb.DuckDBPyConnection, Home], monkeypatch: pytest.MonkeyPatch
) -> None:
    con, home = warehouse
    seen: dict[str, Any] = {}
    real = report.render

    def capture(template: str, **context: Any) -> str:
        seen.update(context)
        return real(template, **context)

    monkeypatch.setattr(report, "render", capture)
    write_report(con, home, run_id="R1", now=RUN_AT)

    # failing checks: rows evaluated (column 5) and rows failed (6) are counts; the pass % (7) is
    # from the published counts and blank where they are suppressed
    planted = {row[1]: row[5:8] for row in seen["failing"]}
    assert planted == {"planted_small": ["205", "*", "—"], "planted_large": ["1000", "40", "96.00%"]}
    assert all(shown_as_count(row[5]) and shown_as_count(row[6]) for row in seen["failing"])
    # practices behind the by-practice checks: records (column 4)
    assert all(shown_as_count(row[4]) for row in seen["practices"])
    # coverage and bias: every table is (value, count)
    counts = [n for _, rows in seen["coverage"] for _, n in rows]
    assert counts and all(shown_as_count(n) for n in counts), counts
    registered = dict(
        next(rows for heading, rows in seen["coverage"] if heading == "People in the warehouse, by practice")
    )
    assert registered["A00001"] == "25"  # 26 people
    # linkage: the *_display columns are counts
    head, rows = seen["linkage"]
    columns = [
        i for i, name in enumerate(head) if name in report._LINKAGE.values() and not name.endswith("%")
    ]
    assert all(shown_as_count(row[i]) for row in rows for i in columns)


def test_rates_are_blank_where_a_count_behind_them_is_small(
    warehouse: tuple[duckdb.DuckDBPyConnection, Home],
) -> None:
    con, _ = warehouse
    # A00001: 23 of 26 stated, so the 3 not stated would follow from an exact rate: blank. B00002: 13 of
    # 26 (one of its two people has an ethnic category): shown from the published counts, 15 / 25
    assert dict(ethnicity(con).iter_rows()) == {"A00001": None, "B00002": 0.6}


def test_shown_as_count_rejects_small_and_unrounded_numbers() -> None:
    assert [shown_as_count(c) for c in ("*", "0", "10", "205", "3", "7", "12", "—")] == [
        True, True, True, True, False, False, False, False,
    ]  # fmt: skip
