"""Warehouse build from small inline staged parquet: counts, person, no identifiers, idempotence,
atomic publish, crash safety, and the data dictionary in docs/warehouse.md matching the schema."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from linkage.warehouse import TABLES, WarehouseCheckError, build_warehouse, open_read_only

BUILT_AT = datetime(2025, 3, 1, 6, 0)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
D = date(2025, 1, 10)
# Tokens: A and B are GP-registered at A00001; C is traced from APC (practice B00002 does not share);
# U is an untraced social care client; E appears only in outpatients, community and mental health.
A, B, C, U, E = "P1-" + "a" * 32, "P1-" + "b" * 32, "P1-" + "c" * 32, "U1-" + "d" * 32, "P1-" + "e" * 32


def _rows(source: str, rows: list[dict[str, Any]], month: str = "2025-01") -> list[dict[str, Any]]:
    return [
        {"link_method": "nhs_number", "link_confidence": 1.0, "source_file": f"{source}/{source}_{month}.csv",
         "source_line": i + 2, "load_id": f"load-{month}", **r}
        for i, r in enumerate(rows)
    ]  # fmt: skip


def _demo(token: str, practice: str | None = "A00001", **extra: Any) -> dict[str, Any]:
    demo = {"person_token": token, "birth_year_month": "1950-03", "sex": "F", "ethnic_category": "A",
            "lsoa21": "E01000001", "practice_shares_gp_data": practice and practice == "A00001", **extra}  # fmt: skip
    if practice:
        demo["practice_code"] = practice
    return demo


STAGED: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("gp_patients", "2025-01"): [
        _demo(A, extract_date=D, registration_start=date(2001, 1, 1)),
        _demo(B, extract_date=D, registration_start=date(2010, 5, 1), sex="M"),
    ],
    ("gp_patients", "2025-02"): [  # B moves to another LSOA and dies
        _demo(
            B,
            extract_date=date(2025, 2, 1),
            registration_start=date(2010, 5, 1),
            sex="M",
            lsoa21="E01000002",
            death_year_month="2025-02",
        ),
    ],  # fmt: skip
    ("gp_events", "2025-01"): [
        {
            "person_token": A,
            "practice_code": "A00001",
            "event_id": f"ev{i}",
            "event_date": D,
            "snomed_code": "38341003",
            "value": None,
            "unit": None,
        }
        for i in range(2)
    ]
    + [
        {
            "person_token": B,
            "practice_code": "A00001",
            "event_id": "ev9",
            "event_date": D,
            "snomed_code": "271649006",
            "value": 142.0,
            "unit": "mmHg",
        }
    ],  # fmt: skip
    ("gp_medications", "2025-01"): [
        {
            "person_token": A,
            "practice_code": "A00001",
            "issue_id": "m1",
            "issue_date": D,
            "dmd_code": "3191711000001103",
            "quantity": 28.0,
        },
    ],  # fmt: skip
    ("apc", "2025-01"): [
        _demo(
            B,
            provider_code="RR8",
            episode_id="e1",
            spell_id="S1",
            episode_order=1,
            admission_date=D,
            admission_method="21",
            episode_start=D,
            episode_end=date(2025, 1, 12),
            diag_01="I219",
            sex="M",
        ),
        _demo(
            B,
            provider_code="RR8",
            episode_id="e2",
            spell_id="S1",
            episode_order=2,
            admission_date=D,
            admission_method="21",
            episode_start=date(2025, 1, 12),
            discharge_date=date(2025, 1, 15),
            discharge_method="1",
            diag_01="I501",
            sex="M",
        ),
        _demo(
            C,
            "B00002",
            provider_code="RR8",
            episode_id="e3",
            spell_id="S2",
            episode_order=1,
            admission_date=D,
            admission_method="11",
            episode_start=D,
            discharge_date=D,
            discharge_method="4",
            diag_01="C349",
            link_method="exact_name_dob_postcode",
            link_confidence=0.99,
            ethnic_category="Z",
        ),
    ],  # fmt: skip
    ("ecds", "2025-01"): [
        _demo(B, provider_code="RR8", attendance_id="a1", arrival_date=D, acuity="1077251000000100")
    ],
    ("outpatients", "2025-02"): [
        _demo(
            E,
            "B00002",
            provider_code="RR8",
            attendance_id="o1",
            appointment_date=date(2025, 2, 3),
            attended="5",
        )
    ],  # fmt: skip
    ("csds", "2025-02"): [
        _demo(
            E,
            "B00002",
            provider_code="RY6",
            referral_id="r1",
            contact_id="c1",
            contact_date=date(2025, 2, 4),
            attended="2",
        )
    ],  # fmt: skip
    ("mhsds", "2025-02"): [
        _demo(
            E,
            "B00002",
            provider_code="RGD",
            record_type=t,
            record_id=f"{t[:1]}1",
            referral_id="mr1",
            start_date=date(2025, 2, d),
            end_date=date(2025, 2, 9) if t == "SPELL" else None,
        )
        for t, d in (("REFERRAL", 1), ("CONTACT", 2), ("SPELL", 5))
    ],  # fmt: skip
    ("asc_cld", "2025-01"): [
        _demo(
            U,
            None,
            event_id="x1",
            event_type="Request",
            event_start=D,
            link_method="unmatched",
            link_confidence=0.0,
            sex="U",
            ethnic_category=None,
        ),
        _demo(
            U,
            None,
            event_id="x2",
            event_type="Assessment",
            event_start=D,
            link_method="unmatched",
            link_confidence=0.0,
            sex="U",
            ethnic_category=None,
        ),
        _demo(A, None, event_id="x3", event_type="Service", event_start=D, service_type="Home care"),
    ],  # fmt: skip
}

EXPECTED_ROWS = {
    "person": 5, "gp_event": 3, "gp_medication": 1, "apc_episode": 3, "apc_spell": 2, "ae_attendance": 1,
    "op_appointment": 1, "community_contact": 1, "mh_referral": 1, "mh_contact": 1, "mh_spell": 1,
    "asc_event": 3, "ref_practice": 2, "ref_lsoa": 2, "ref_codelist": 2, "ref_ethnic_category": 18,
    "reconciliation": 1, "quarantine_summary": 2, "opt_out_summary": 0, "load_log": 21, "dq_results": 0, "linkage_rates": 0,
}  # fmt: skip


def write_home(root: Path, staged: dict[tuple[str, str], list[dict[str, Any]]] = STAGED) -> dict[str, Path]:
    """A HOME/pseudonymised tree plus landing/reference, registers and a codelist directory."""
    dirs = {k: root / v for k, v in (("staged", "pseudonymised/staged"), ("ops", "pseudonymised/ops"),
                                     ("reference", "landing/reference"), ("codelists", "codelists"))}  # fmt: skip
    for (source, month), rows in staged.items():
        (dirs["staged"] / source).mkdir(parents=True, exist_ok=True)
        pl.DataFrame(_rows(source, rows, month)).write_parquet(dirs["staged"] / source / f"{month}.parquet")
    for kind in ("reconciliation", "quarantine"):
        (dirs["ops"] / kind).mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"source": ["apc"], "file": ["apc/apc_2025-01.csv"], "month": ["2025-01"], "rows_in": [6],
                  "loaded": [3], "quarantined": [2], "opted_out": [1], "excluded": [0]}).write_parquet(
        dirs["ops"] / "reconciliation" / "apc_2025-01.parquet")  # fmt: skip
    pl.DataFrame({"source": ["apc"] * 2, "file": ["apc/apc_2025-01.csv"] * 2, "month": ["2025-01"] * 2,
                  "reason": ["invalid_date", "missing_required"], "rows": [1, 1]}).write_parquet(
        dirs["ops"] / "quarantine" / "apc_2025-01.parquet")  # fmt: skip
    for d in (dirs["reference"], root / "landing/registers", dirs["codelists"]):
        d.mkdir(parents=True, exist_ok=True)
    (dirs["reference"] / "practices.csv").write_text(
        "Practice_Code,Practice_Name,PCN_Code,PCN_Name,Place,Practice_Postcode\n"
        "A00001,Riverside,U00001,North PCN,Northtown,LS1 1AA\nB00002,Hilltop,U00002,South PCN,Southville,LS2 2BB\n"
    )
    (dirs["reference"] / "lsoa_imd.csv").write_text(
        "LSOA21CD,LSOA21NM,IMD_Decile,Place\nE01000001,Leeds 001A,2,Northtown\nE01000002,Leeds 002B,9,Southville\n"
    )
    (root / "landing/registers/non_sharing_practices.csv").write_text(
        "Practice_Code,Reason\nB00002,not signed\n"
    )
    (dirs["codelists"] / "hypertension.csv").write_text(
        "code,term\n38341003,Hypertension\n1201005,Benign HT\n"
    )
    return dirs


def build(dirs: dict[str, Path], out: Path, **kwargs: Any) -> Any:
    return build_warehouse(dirs["staged"], dirs["ops"], dirs["reference"], out, load_id="L1", built_at=BUILT_AT,
                           codelists_dir=dirs["codelists"], **kwargs)  # fmt: skip


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
    assert not out.with_suffix(".building").exists()


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
    assert not out.exists() and not out.with_suffix(".building").exists()


def test_rebuild_is_idempotent_and_a_rerun_month_replaces(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    first = build(home, out).rows
    assert build(home, out).rows == first
    # Re-running January's APC with one episode fewer overwrites its staged file: rows replaced.
    rows = _rows("apc", STAGED[("apc", "2025-01")][:2])
    pl.DataFrame(rows).write_parquet(home["staged"] / "apc" / "2025-01.parquet")
    assert build(home, out).rows | {"person": 5} == first | {"apc_episode": 2, "apc_spell": 1}


def test_open_reader_keeps_old_file_new_reader_sees_new(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    old = open_read_only(out)
    pl.DataFrame(_rows("gp_events", STAGED[("gp_events", "2025-01")], "2025-02")).write_parquet(
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
    assert not out.with_suffix(".building").exists()
    assert counts(out) == EXPECTED_ROWS
    # A stale .building file left by a killed process is discarded by the next build.
    out.with_suffix(".building").write_bytes(b"garbage")
    assert build(home, out).rows == EXPECTED_ROWS


def test_sources_without_files_give_empty_tables(tmp_path: Path) -> None:
    dirs = write_home(tmp_path, {("gp_patients", "2025-01"): STAGED[("gp_patients", "2025-01")]})
    stats = build(dirs, tmp_path / "w.duckdb")
    assert stats.rows["person"] == 2
    assert all(stats.rows[t] == 0 for t in ("gp_event", "apc_spell", "mh_spell", "asc_event"))


COHORT_STEP_HEADING = "# Tables added by the cohort step"


def _documented(markdown: str, *, cohort_step: bool = False) -> set[tuple[str, str, str]]:
    """Rule: a '## `table`' heading, then a markdown table whose header is '| column | type | ... |'.

    Tables documented after the '# Tables added by the cohort step' heading are not built by
    `build_warehouse` (the cohort step publishes them, tests/unit/test_cohort_publish.py checks them):
    `cohort_step=False` gives the tables before that heading, `cohort_step=True` those after it.
    """
    found: set[tuple[str, str, str]] = set()
    table = None
    in_cohort_step = False
    for line in markdown.splitlines():
        if line.strip() == COHORT_STEP_HEADING:
            in_cohort_step, table = True, None
            continue
        if in_cohort_step != cohort_step:
            continue
        heading = re.match(r"^## `?([a-z_]+)`?\s*$", line)
        if heading:
            table = heading.group(1)
            continue
        if line.startswith("## "):
            table = None
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if table and line.startswith("|") and len(cells) >= 3 and cells[0] not in ("column", "") \
                and not set(cells[0]) <= set("-: "):  # fmt: skip
            found.add((table, cells[0], cells[1]))
    return found


def test_data_dictionary_matches_schema(home: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "w.duckdb"
    build(home, out)
    con = open_read_only(out)
    actual = set(con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = 'main'").fetchall())  # fmt: skip
    documented = _documented(DOCS.read_text(encoding="utf-8"))
    assert {(t, c) for t, c, _ in documented} == {(t, c) for t, c, _ in actual}
    assert documented == actual
