"""Each expectation kind on small inline tables with known failures, in both engines (GX and DuckDB
SQL must give the same exact counts); thresholds and severity -> outcome; no data values in results."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import duckdb
import pytest

from quality.config import Expectation, load_config, parse_config
from quality.engine import evaluate
from quality.results import outcome

AS_OF = date(2025, 3, 1)
RUN_AT = datetime(2025, 3, 1, 6, 0)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET python_enable_replacements = false")
    # 7 activity rows; the comment on each row says which rules it breaks.
    c.execute("""
        CREATE TABLE t AS SELECT * FROM (VALUES
          ('P1-a',  'A00001', 'e1', DATE '2025-01-10', DATE '2025-01-12', '38341003', 'E01000001', 'A',  'nhs_number'),
          ('P1-a',  'A00001', 'e1', DATE '2025-02-10', DATE '2025-02-01', '38341003', 'E01000001', NULL, 'nhs_number'), -- dup key, end<start, no ethnicity
          ('P1-b',  'a0001',  'e2', DATE '2026-01-01', NULL,              '99999999', 'E0100001X', 'Z',  'nhs_number'), -- future, bad ODS, not in codelist, bad LSOA
          ('P1-c',  'A00001', 'e3', DATE '1940-05-01', DATE '1940-05-02', 'ABC',      NULL,        NULL, 'unmatched'),  -- before birth, bad SNOMED, no ethnicity, untraced
          ('P1-e',  NULL,     'e4', DATE '2025-02-20', DATE '2025-02-21', NULL,       'E01000002', 'B',  'nhs_number'), -- after death
          ('P1-a',  'B00002', 'e5', DATE '2025-01-15', DATE '2025-01-15', '59621000', 'E01000002', 'C',  'exact_name_dob'),
          ('P1-zz', 'A00001', 'e6', DATE '2025-01-01', NULL,              '38341003', 'E01000001', 'A',  'nhs_number')  -- token not in person
        ) AS v(person_token, practice_code, event_id, start_date, end_date, snomed_code, lsoa21, ethnic_category, link_method)
    """)  # fmt: skip
    c.execute("""
        CREATE TABLE person AS SELECT * FROM (VALUES
          ('P1-a', '1950-03', NULL), ('P1-b', '1960-01', NULL), ('P1-c', '1950-01', NULL), ('P1-e', '1930-01', '2025-01')
        ) AS v(person_token, birth_year_month, death_month)
    """)  # fmt: skip
    c.execute("""CREATE TABLE ref_codelist AS SELECT * FROM (VALUES ('hypertension', '38341003', 'HT'),
                 ('hypertension', '59621000', 'EHT'), ('asthma', '195967001', 'A')) AS v(codelist, code, term)""")
    c.execute("""CREATE TABLE nhs AS SELECT * FROM (VALUES (true, true), (true, false), (false, NULL), (true, true))
                 AS v(nhs_number_present, nhs_number_valid)""")  # fmt: skip
    return c


def _exp(kind: str, columns: list[str], **extra: Any) -> Expectation:
    return Expectation(id=f"x_{kind}", scope="warehouse", target="t", kind=kind, columns=tuple(columns),  # type: ignore[arg-type]
                       category="conformance", threshold=0.0, severity="block", **extra)  # fmt: skip


# (expectation, rows evaluated, rows failed) on the 7 rows of `t`.
CASES = [
    (_exp("not_null", ["ethnic_category"]), 7, 2),
    (_exp("match_pattern", ["practice_code"], pattern="ods_practice"), 6, 1),
    (_exp("match_pattern", ["snomed_code"], pattern="snomed"), 6, 1),
    (_exp("match_pattern", ["lsoa21"], pattern="lsoa21"), 6, 1),
    (
        _exp("match_pattern", ["practice_code", "lsoa21"], pattern="ods_practice"),
        12,
        7,
    ),  # cells, both columns
    (_exp("in_set", ["snomed_code"], codelists=("hyper*",)), 6, 2),
    (_exp("in_set", ["ethnic_category"], values=("A", "B", "C")), 5, 1),
    (_exp("not_in_set", ["link_method"], values=("unmatched",)), 7, 1),
    (_exp("not_in_future", ["start_date"]), 7, 1),
    (_exp("pair_order", ["end_date", "start_date"]), 5, 1),
    (_exp("after_birth", ["start_date"]), 6, 1),
    (_exp("before_death", ["start_date"]), 1, 1),
    (_exp("unique", ["person_token", "event_id"]), 7, 2),
    (_exp("unique", ["event_id"]), 7, 2),
    (_exp("in_person", ["person_token"]), 7, 1),
    (_exp("group_rate", ["ethnic_category"], group_by="practice_code", min_rate=0.8, min_group_rows=1), 3, 1),
]


@pytest.mark.parametrize("engine", ["gx", "sql"])
@pytest.mark.parametrize(
    ("expectation", "evaluated", "failed"),
    CASES,
    ids=[c[0].kind + "-" + "-".join(c[0].columns) for c in CASES],
)
def test_kind_counts_exact_in_both_engines(
    con: duckdb.DuckDBPyConnection, engine: str, expectation: Expectation, evaluated: int, failed: int
) -> None:
    (r,) = evaluate(con, [expectation], {("t", "records"): "t"}, run_id="R1", run_at=RUN_AT, as_of=AS_OF,
                    engine=engine)  # type: ignore[arg-type]  # fmt: skip
    assert (r.rows_evaluated, r.rows_failed, r.engine) == (evaluated, failed, engine)


@pytest.mark.parametrize("engine", ["gx", "sql"])
def test_nhs_status_is_true(con: duckdb.DuckDBPyConnection, engine: str) -> None:
    present, valid = (_exp("is_true", [c]) for c in ("nhs_number_present", "nhs_number_valid"))
    results = evaluate(con, [present, valid], {("t", "records"): "nhs"}, run_id="R1", run_at=RUN_AT, as_of=AS_OF,
                       engine=engine)  # type: ignore[arg-type]  # fmt: skip
    assert [(r.rows_evaluated, r.rows_failed) for r in results] == [(4, 1), (3, 1)]


def test_auto_engine_switches_to_sql_above_gx_max_rows(con: duckdb.DuckDBPyConnection) -> None:
    e = _exp("not_null", ["ethnic_category"])
    small = evaluate(con, [e], {("t", "records"): "t"}, run_id="R", run_at=RUN_AT, as_of=AS_OF, gx_max_rows=7)
    large = evaluate(con, [e], {("t", "records"): "t"}, run_id="R", run_at=RUN_AT, as_of=AS_OF, gx_max_rows=6)
    assert (small[0].engine, large[0].engine) == ("gx", "sql")
    assert (small[0].rows_failed, large[0].rows_failed) == (2, 2)


@pytest.mark.parametrize(
    ("evaluated", "failed", "threshold", "severity", "expected"),
    [
        (100, 0, 0.0, "block", "pass"),
        (100, 1, 0.0, "block", "fail"),
        (100, 1, 0.0, "warn", "warn"),
        (100, 5, 0.05, "block", "pass"),  # exactly at the threshold passes
        (100, 6, 0.05, "block", "fail"),
        (100, 6, 0.05, "warn", "warn"),
        (0, 0, 0.0, "block", "pass"),  # nothing to check
    ],
)
def test_threshold_and_severity_give_outcome(
    evaluated: int, failed: int, threshold: float, severity: str, expected: str
) -> None:
    assert outcome(evaluated, failed, threshold, severity) == expected


def test_result_rows_carry_threshold_severity_and_pass_pct(con: duckdb.DuckDBPyConnection) -> None:
    e = _exp("not_null", ["ethnic_category"]).model_copy(update={"threshold": 0.3, "severity": "warn"})
    (r,) = evaluate(con, [e], {("t", "records"): "t"}, run_id="R9", run_at=RUN_AT, as_of=AS_OF, engine="sql")
    assert (r.run_id, r.asset, r.expectation, r.category, r.threshold, r.severity) == (
        "R9", "warehouse/t", "x_not_null", "conformance", 0.3, "warn")  # fmt: skip
    assert r.pass_pct == pytest.approx(100 * 5 / 7, abs=1e-3) and r.outcome == "pass"  # 2/7 = 28.6 % <= 30 %


@pytest.mark.parametrize("engine", ["gx", "sql"])
def test_results_contain_no_values_from_the_data(con: duckdb.DuckDBPyConnection, engine: str) -> None:
    results = [
        r for e, _, _ in CASES
        for r in evaluate(con, [e], {("t", "records"): "t"}, run_id="R1", run_at=RUN_AT, as_of=AS_OF,
                          engine=engine)  # type: ignore[arg-type]
    ]  # fmt: skip
    text = " ".join(repr(r) + r.message for r in results)
    values = {str(v) for row in con.execute("SELECT * FROM t").fetchall() for v in row if v is not None}
    values = {v for v in values if len(v) > 3}  # e1, A, Z ... occur in any text
    leaked = sorted(v for v in values if v in text)
    assert leaked == []


def test_shipped_config_loads_and_expands() -> None:
    config = load_config()
    keys = [e.key for e in config.expectations]
    assert len(keys) == len(set(keys))
    ids = {e.id for e in config.expectations}
    for defect_id in ("nhs_number_valid", "nhs_number_present", "ethnicity_complete", "code_in_codelist",
                      "duplicate_rows_excluded", "quarantine_invalid_date", "quarantine_future_date",
                      "quarantine_malformed_line", "token_in_person", "row_count_in_tolerance", "traced"):  # fmt: skip
        assert defect_id in ids
    assert {e.category for e in config.expectations} == {"conformance", "completeness", "plausibility"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "not_null", "columns": ["no_such_column"]}, "no column"),
        ({"kind": "match_pattern", "columns": ["practice_code"], "pattern": "nope"}, "pattern"),
        ({"kind": "not_null", "columns": ["practice_code"], "targets": ["nope"]}, "unknown source"),
        ({"kind": "not_null", "columns": ["practice_code; DROP TABLE person"]}, "no column"),
    ],
)
def test_config_refuses_bad_entries(entry: dict[str, Any], message: str) -> None:
    base = {"id": "x", "scope": "source", "targets": ["apc"], "category": "completeness", "threshold": 0.1,
            "severity": "warn"}  # fmt: skip
    with pytest.raises(ValueError, match=message):
        parse_config({"expectations": [base | entry]})


def test_gx_keeps_no_records_after_a_run(con: duckdb.DuckDBPyConnection) -> None:
    # The GX context is shared by the whole process; each validation's data source (holding the
    # records as a pandas frame) must be dropped when it is done.
    from quality.gx import gx_context

    before = set(gx_context().data_sources.all())
    (r,) = evaluate(con, [_exp("not_null", ["ethnic_category"])], {("t", "records"): "t"}, run_id="R1",
                    run_at=RUN_AT, as_of=AS_OF, engine="gx")  # fmt: skip
    assert (r.engine, r.rows_evaluated, r.rows_failed) == ("gx", 7, 2)
    assert set(gx_context().data_sources.all()) == before
