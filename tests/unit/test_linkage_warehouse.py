"""Warehouse build from small inline staged parquet (tests/fixtures/staged_home.py): counts, person, no
identifiers, idempotence, atomic publish, crash safety, and the data dictionary in docs/warehouse.md
matching the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from linkage.warehouse import TABLES, WarehouseCheckError, open_read_only
from tests.fixtures.staged_home import (
    BUILT_AT,
    DOCS,
    STAGED,
    A,
    B,
    C,
    E,
    U,
    build,
    documented_columns,
    staged_rows,
    write_home,
)

EXPECTED_ROWS = {
    "person": 5, "gp_event": 3, "gp_medication": 1, "apc_episode": 3, "apc_spell": 2, "ae_attendance": 1,
    "op_appointment": 1, "community_contact": 1, "mh_referral": 1, "mh_contact": 1, "mh_spell": 1,
    "asc_event": 3, "ref_practice": 2, "ref_lsoa": 2, "ref_codelist": 2, "ref_ethnic_category": 18,
    "reconciliation": 1, "quarantine_summary": 2, "opt_out_summary": 0, "opt_out_by_area": 0, "load_log": 22, "dq_results": 0, "linkage_rates": 0,
}  # fmt: skip


def counts(path: Path) -> dict[str, int]:
    con = open_read_only(path)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]
    finally:
        con.close()


@pytest.fixture
def home(tmp_path: Path) -> dict[str, Path]:
    return write_home(tmp_path)


def test_row_counts_per_table(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "warehouse" / "warehouse.duckdb"
    stats = build(home, out)
    assert stats.rows == EXPECTED_ROWS
    assert counts(out) == EXPECTED_ROWS
    assert not list(out.parent.glob("*.building*"))


def test_person_demographics_links_and_coverage(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    con = open_read_only(out)
    person = {r[0]: r[1:] for r in con.execute(
        "SELECT person_token, sex, lsoa21, imd_decile, place, practice_code, pcn_code, death_month, link_method,"
        " link_confidence, gp_data_shared, demographics_source, ethnic_group, in_gp, in_apc, in_ecds,"
        " in_outpatients, in_csds, in_mhsds, in_asc FROM person").fetchall()}  # fmt: skip
    assert person == {
        A: ("F", "E01000001", 2, "Northtown", "A00001", "U00001", None, "nhs_number", 1.0, True, "gp", "White",
            True, False, False, False, False, False, True),
        B: ("M", "E01000002", 9, "Southville", "A00001", "U00001", "2025-02", "nhs_number", 1.0, True, "gp",
            "White", True, True, True, False, False, False, False),
        C: ("F", "E01000001", 2, "Northtown", "B00002", "U00002", "2025-01", "exact_name_dob_postcode", 0.99,
            False, "secondary", "Not stated", False, True, False, False, False, False, False),
        U: ("U", "E01000001", 2, "Northtown", None, None, None, "unmatched", 0.0, None, "secondary", None,
            False, False, False, False, False, False, True),
        E: ("F", "E01000001", 2, "Northtown", "B00002", "U00002", None, "nhs_number", 1.0, False, "secondary",
            "White", False, False, False, True, True, True, False),
    }  # fmt: skip
    spells = con.execute(
        "SELECT spell_id, person_token, is_emergency, primary_diagnosis, episode_count, length_of_stay"
        " FROM apc_spell ORDER BY spell_id").fetchall()  # fmt: skip
    assert spells == [("S1", B, True, "I219", 2, 5), ("S2", C, False, "C349", 1, 0)]
    assert con.execute("SELECT event_type FROM asc_event ORDER BY event_id").fetchall() == [
        ("request",), ("assessment",), ("service",)]  # fmt: skip
    shares = con.execute("SELECT practice_code, shares_gp_data FROM ref_practice ORDER BY 1").fetchall()
    assert shares == [("A00001", True), ("B00002", False)]
    log = con.execute("SELECT DISTINCT load_id, built_at FROM load_log").fetchall()
    assert log == [("L1", BUILT_AT)]


def test_no_identifier_columns_anywhere(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    con = open_read_only(out)
    names = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
    assert not names & {"nhs_number", "given_name", "family_name", "date_of_birth", "postcode", "address",
                        "la_person_id", "pseudo_key"}  # fmt: skip
    assert not [n for n in names if "postcode" in n or "nhs" in n or "address" in n]


@pytest.mark.parametrize("column", ["nhs_number", "pseudo_key", "la_person_id", "date_of_death"])
def test_identifiable_staged_file_is_refused(tmp_path: Path, column: str) -> None:
    out = tmp_path / "w.duckdb"
    leaked = dict(STAGED)
    leaked[("ecds", "2025-01")] = [r | {column: "x"} for r in STAGED[("ecds", "2025-01")]]
    dirs = write_home(tmp_path / "leak", leaked)
    with pytest.raises(WarehouseCheckError, match=column):
        build(dirs, out)
    assert not out.exists() and not list(out.parent.glob("*.building*"))


def test_rebuild_is_idempotent_and_a_rerun_month_replaces(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    first = build(home, out).rows
    assert build(home, out).rows == first
    # Re-running January's APC with one episode fewer overwrites its staged file: rows replaced.
    rows = staged_rows("apc", STAGED[("apc", "2025-01")][:2])
    pl.DataFrame(rows).write_parquet(home["staged"] / "apc" / "2025-01.parquet")
    assert build(home, out).rows | {"person": 5} == first | {"apc_episode": 2, "apc_spell": 1}


def test_open_reader_keeps_old_file_new_reader_sees_new(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    old = open_read_only(out)
    pl.DataFrame(staged_rows("gp_events", STAGED[("gp_events", "2025-01")], "2025-02")).write_parquet(
        home["staged"] / "gp_events" / "2025-02.parquet"
    )
    build(home, out)
    new = open_read_only(out)
    assert old.execute("SELECT count(*) FROM gp_event").fetchone() == (3,)
    assert new.execute("SELECT count(*) FROM gp_event").fetchone() == (6,)
    # The documented plain-Python way, in a fresh process, sees the new file too.
    code = "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); print(c.execute('select count(*) from gp_event').fetchone()[0])"
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "6"
    old.close()
    new.close()


def test_crash_mid_build_leaves_published_file_untouched(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    before = out.read_bytes()

    def crash(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DELETE FROM person")
        raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        build(home, out, before_publish=crash)
    assert out.read_bytes() == before
    assert not list(out.parent.glob("*.building*"))
    assert counts(out) == EXPECTED_ROWS
    # A stale build file left by a killed process (no live process holds its lock) is discarded.
    out.with_suffix(".building").write_bytes(b"garbage")
    out.with_name("w.1234-dead.building").write_bytes(b"garbage")
    assert build(home, out).rows == EXPECTED_ROWS
    assert not list(out.parent.glob("*.building*"))


def test_sources_without_files_give_empty_tables(tmp_path: Path) -> None:
    dirs = write_home(tmp_path, {("gp_patients", "2025-01"): STAGED[("gp_patients", "2025-01")]})
    stats = build(dirs, tmp_path / "w.duckdb")
    assert stats.rows["person"] == 2
    assert all(stats.rows[t] == 0 for t in ("gp_event", "apc_spell", "mh_spell", "asc_event"))


def test_data_dictionary_matches_schema(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    con = open_read_only(out)
    actual = set(con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = 'main'").fetchall())  # fmt: skip
    documented = documented_columns(DOCS.read_text(encoding="utf-8"))
    assert {(t, c) for t, c, _ in documented} == {(t, c) for t, c, _ in actual}
    assert documented == actual
