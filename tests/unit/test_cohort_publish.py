"""cohort.publish: the cohort step's tables go into the published warehouse atomically, tokens only, and
match their data dictionary (docs/warehouse.md, 'Tables added by the cohort step')."""

from __future__ import annotations

import fcntl
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

import cohort
from cohort.definitions import load_cohorts
from cohort.features import FEATURE_COLUMNS
from cohort.publish import PublishError, cohort_tables, publish_tables
from core.publish import swap_in
from linkage.warehouse import open_read_only
from pipelines.defs.cohort import assets as assets_cohort
from pseudonymisation.release.register import EXAMPLE_REGISTER, load_register
from tests.fixtures.staged_home import DOCS, documented_columns

T1, T2 = "P1-" + "a" * 32, "P1-" + "b" * 32
_VALUES: dict[str, tuple[object, object]] = {
    "VARCHAR": ("x", None),
    "BOOLEAN": (True, False),
    "INTEGER": (1, 2),
    "DOUBLE": (0.5, None),
}


def _warehouse(tmp_path: Path) -> Path:
    """A tiny published warehouse: one table, checkpointed and closed (as the build leaves it)."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE person (person_token VARCHAR, practice_code VARCHAR)")
    con.execute("INSERT INTO person VALUES (?, 'A81001'), (?, 'A81002')", [T1, T2])
    con.execute("CHECKPOINT")
    con.close()
    return path


def _features() -> pl.DataFrame:
    rows = {c: list(_VALUES[t]) for c, t in FEATURE_COLUMNS.items()}
    rows.update(person_token=[T1, T2], segment=["Frailty", None], risk_tier=["high", None])
    return pl.DataFrame(rows).with_columns(pl.col(pl.Int64).cast(pl.Int32))


def _tables(built_at: datetime = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)) -> dict[str, pl.DataFrame]:
    scores = pl.DataFrame(
        {"person_token": [T1], "risk_score": [0.42], "risk_tier": ["high"], "risk_rank": [1]}
    )
    members = pl.DataFrame({"person_token": [T1], "reason": ["diabetes; no HbA1c in 12 months"]})
    aggregates = {
        by: pl.DataFrame(
            {by: ["v", None], "n": [10, 10], "suppression": [None, None], "total": [False, True],
             "n_display": ["10", "10"]},
            schema_overrides={by: pl.String, "suppression": pl.String},
        )
        for by in assets_cohort.AGGREGATE_BY
    }  # fmt: skip
    return cohort_tables(
        features=_features(), scores=scores, cohorts={"diabetes_no_hba1c_12m": members},
        aggregates=aggregates, built_at=built_at,
    )  # fmt: skip


def _columns(path: Path) -> set[tuple[str, str, str]]:
    con = open_read_only(path)
    try:
        rows = con.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_catalog = current_database() AND table_schema = 'main'"
        ).fetchall()
    finally:
        con.close()
    return {(str(t), str(c), str(d)) for t, c, d in rows}


def test_data_dictionary_matches_published_cohort_tables(tmp_path: Path) -> None:
    path = _warehouse(tmp_path)
    publish_tables(path, _tables())
    published = {row for row in _columns(path) if row[0] != "person"}
    documented = documented_columns(DOCS.read_text(encoding="utf-8"), cohort_step=True)
    assert {(t, c) for t, c, _ in documented} == {(t, c) for t, c, _ in published}
    assert documented == published
    assert {t for t, _, _ in documented} == {
        "features", "risk_score", "cohort_member",
        *(f"agg_people_by_{by}" for by in assets_cohort.AGGREGATE_BY),
    }  # fmt: skip


def test_publish_keeps_existing_tables_and_replaces_its_own(tmp_path: Path) -> None:
    path = _warehouse(tmp_path)
    publish_tables(path, _tables())
    publish_tables(path, _tables(datetime(2026, 11, 2, 8, 0, tzinfo=UTC)))  # the next run
    con = open_read_only(path)
    try:
        assert con.sql("SELECT count(*) FROM person").fetchall() == [(2,)]
        assert con.sql("SELECT cohort_id, person_token, reason, built_at FROM cohort_member").fetchall() == [
            ("diabetes_no_hba1c_12m", T1, "diabetes; no HbA1c in 12 months", datetime(2026, 11, 2, 8, 0))
        ]
        assert con.sql("SELECT person_token, risk_rank, risk_tier, segment FROM risk_score").fetchall() == [
            (T1, 1, "high", "Frailty")
        ]
        assert con.sql("SELECT person_token, age, segment FROM features ORDER BY 1").fetchall() == [
            (T1, 1, "Frailty"),
            (T2, 2, None),
        ]
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "warehouse.lock") == ["warehouse.duckdb"]


def test_reader_keeps_its_snapshot_while_a_publish_swaps_the_file(tmp_path: Path) -> None:
    path = _warehouse(tmp_path)
    before = open_read_only(path)
    try:
        publish_tables(path, {"risk_score": _tables()["risk_score"]})
        assert before.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'risk_score'"
                          " AND table_catalog = current_database()").fetchall() == [(0,)]  # fmt: skip
        assert before.sql("SELECT count(*) FROM person").fetchall() == [(2,)]
    finally:
        before.close()
    after = open_read_only(path)
    try:
        assert after.sql("SELECT count(*) FROM risk_score").fetchall() == [(1,)]
    finally:
        after.close()


@pytest.mark.parametrize(
    ("name", "column", "message"),
    [
        ("cohort_member", "nhs_number", "refused identifying columns ['nhs_number']"),
        ("cohort_member", "patient_postcode", "refused identifying columns ['patient_postcode']"),
        ("risk_score", "Date_Of_Birth", "refused identifying columns ['Date_Of_Birth']"),
        ("person; DROP TABLE person", "person_token", "refused table name 'person; DROP TABLE person'"),
        ("features", "bad column", "refused column names ['bad column']"),
    ],
)
def test_refused_tables_publish_nothing(tmp_path: Path, name: str, column: str, message: str) -> None:
    path = _warehouse(tmp_path)
    original = path.read_bytes()
    good = _tables()["risk_score"]
    with pytest.raises(PublishError) as raised:
        publish_tables(path, {"risk_score": good, name: pl.DataFrame({column: ["9990000018"]})})
    assert message in str(raised.value)
    assert "9990000018" not in str(raised.value)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "warehouse.lock") == ["warehouse.duckdb"]


def test_failed_publish_leaves_the_published_file_untouched(tmp_path: Path) -> None:
    path = _warehouse(tmp_path)
    original = path.read_bytes()
    unsupported = pl.DataFrame({"person_token": [T1], "blob": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(Exception):  # noqa: B017 - whatever DuckDB raises for an unsupported type
        publish_tables(path, {"risk_score": _tables()["risk_score"], "broken": unsupported})
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "warehouse.lock") == ["warehouse.duckdb"]


def test_no_published_warehouse_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        publish_tables(tmp_path / "warehouse.duckdb", _tables())
    assert list(tmp_path.iterdir()) == []


def test_cohort_purposes_are_register_purposes_that_permit_them() -> None:
    register = load_register(EXAMPLE_REGISTER)
    assert frozenset(p.id for p in register.purposes) == assets_cohort.PURPOSES
    definitions = load_cohorts(
        Path(cohort.__file__).parent / "definitions", allowed_purposes=assets_cohort.PURPOSES
    )
    assert {d.id: d.purpose for d in definitions} == {
        "diabetes_no_hba1c_12m": "diabetes-recall",
        "frail_65_high_risk_no_gp_6m": "proactive-frailty-review",
        "frequent_ae_with_mh": "ics-risk-stratification",
        "top_tier_social_care": "ics-risk-stratification",
    }
    for d in definitions:
        assert register.purpose(d.purpose).permits_cohort(d.id), d.id


def test_writers_take_turns_on_the_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second publish waits while a build holds the file, so it copies the build's result, not the
    file the build is replacing.

    Handshake, no sleeps: the second writer first asks for the lock without waiting and records whether
    it was refused (the build holds it) before it waits for real; the build finishes only once the
    second writer has asked. A lock that is missing, shared, or on another file lets the second writer
    in at once, and the test fails whenever its thread happens to start."""
    path = tmp_path / "warehouse.duckdb"
    with swap_in(path) as con:
        con.execute("CREATE TABLE person AS SELECT 1 AS v")
    real_flock = fcntl.flock
    asked = threading.Event()
    lock_outcomes: list[str] = []
    order: list[str] = []

    def flock(fd: int, operation: int) -> None:
        # Only the writers' turn lock waits; a build file's own lock is taken without waiting (LOCK_NB).
        if (
            threading.current_thread() is not other
            or operation in (fcntl.LOCK_UN,)
            or operation & fcntl.LOCK_NB
        ):
            real_flock(fd, operation)
            return
        try:
            real_flock(fd, operation | fcntl.LOCK_NB)
            lock_outcomes.append("granted at once")
        except BlockingIOError:
            lock_outcomes.append("refused while the build holds it")
            asked.set()
            real_flock(fd, operation)

    def publish() -> None:
        try:
            with swap_in(path, from_published=True) as con:
                order.append(f"publish saw {con.execute('SELECT v FROM person').fetchall()[0][0]}")
                con.execute("CREATE TABLE cohort AS SELECT 1 AS c")
        finally:
            asked.set()  # a writer that never waited must not leave the build waiting for it

    monkeypatch.setattr(fcntl, "flock", flock)
    other = threading.Thread(target=publish)
    with swap_in(path) as con:
        con.execute("CREATE TABLE person AS SELECT 2 AS v")
        other.start()
        assert asked.wait(timeout=60)
        order.append("build done")
    other.join()
    assert lock_outcomes == ["refused while the build holds it"]
    assert order == ["build done", "publish saw 2"]
    check = duckdb.connect(str(path), read_only=True)
    assert sorted(t for (t,) in check.execute("SHOW TABLES").fetchall()) == ["cohort", "person"]
    check.close()
