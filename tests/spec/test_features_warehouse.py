"""Features as at a reference date, from a tiny inline warehouse: the expected value per person.

As at 2025-06-30. Windows are inclusive at both ends: 12 months back is 2024-06-30, 6 months back is
2024-12-30. Anything dated after the as-of date is ignored. Tables the warehouse lacks (outpatients,
community, mental health here) read as no activity.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cohort.features import FEATURE_COLUMNS
from cohort.features_sql import build_features, compute_features

AS_OF = date(2025, 6, 30)
D = date.fromisoformat

PERSON = pl.DataFrame(
    [
        # token  birth     sex  imd  practice  reg_end  death      shared
        ("p1", "1950-03", "F", 2, "A001", None, None, True),
        ("p2", "1990-07", "M", 9, "A001", None, None, True),
        ("p3", "2000-01", "U", None, "A002", None, "2025-05", True),  # died before the as-of month ends
        ("p4", "2025-08", "F", 5, "A001", None, None, True),  # born after the as-of date: no row
        ("p5", "1940-01", "M", 1, None, None, None, None),  # no practice: not registered
        ("p6", "1960-06", "F", 4, "A002", D("2025-01-31"), None, True),  # deregistered
    ],
    schema={
        "person_token": pl.String, "birth_year_month": pl.String, "sex": pl.String, "imd_decile": pl.Int32,
        "practice_code": pl.String, "registration_end": pl.Date, "death_month": pl.String,
        "gp_data_shared": pl.Boolean,
    },
    orient="row",
).with_columns(
    pl.lit("White").alias("ethnic_group"), pl.lit(None, pl.Date).alias("registration_start")
)  # fmt: skip

GP_EVENT = [
    ("p1", "2020-01-01", "44054006"),  # diabetes (ever recorded) and the eFI 'Diabetes' deficit
    ("p1", "2024-01-01", "161898004"),  # falls deficit
    ("p1", "2025-07-01", "404640003"),  # dizziness, after the as-of date: ignored
    ("p2", "2025-06-30", "11429006"),  # consultation on the as-of date: in 6m and 12m
    ("p2", "2025-01-01", "11429006"),  # two consultations on one day: one contact day
    ("p2", "2025-01-01", "11429006"),
    ("p2", "2024-12-30", "11429006"),  # exactly 6 months back: in 6m
    ("p2", "2024-06-30", "11429006"),  # exactly 12 months back: in 12m only
    ("p2", "2024-06-29", "11429006"),  # one day too early
    *[("p5", "2010-01-01", f"E{i}") for i in range(1, 14)],  # 13 deficits: severe
    ("p5", "2011-01-01", "E1b"),  # a second code for deficit 1: still 13 deficits
]
MEDS = [("p2", "2025-05-01", f"d{i}") for i in range(10)] + [("p2", "2024-09-01", "d10")]
APC_EPISODE = [("p1", "2025-01-10", "I10X", None, None, None)]  # hypertension from a hospital diagnosis
APC_SPELL = [
    ("p1", "2025-01-10", "2025-01-15", "21", "true"),  # emergency, 5 bed days
    ("p1", "2025-07-01", None, "21", "true"),  # after the as-of date
    ("p2", "2025-02-01", "2025-02-01", "11", "false"),  # elective day case
]
AE = [("p2", "2025-03-01"), ("p2", "2024-10-01"), ("p2", "2025-07-02")]
ASC = [
    ("p1", "service", "2024-01-01", None, "Long Term Support: Community: Home Support"),  # open now
    ("p2", "assessment", "2024-04-01", "2024-05-01", None),  # ended before the 12-month window
]
CODELIST = [
    ("diabetes_snomed", "44054006"),
    ("hypertension_icd10", "I10X"),
    ("gp_consultation_snomed", "11429006"),
]
EFI_CSV = (
    "code,term,deficit\n44054006,t,Diabetes\n161898004,t,Falls\n404640003,t,Dizziness\n"
    + "".join(f"E{i},t,deficit {i}\n" for i in range(1, 14))
    + "E1b,t,deficit 1\n"
)

# person: (age, alive, registered, has_diabetes, has_hypertension, ltc_count, efi_deficits, frailty_category)
EXPECTED_CLINICAL = {
    "p1": (75, True, True, True, True, 2, 2, "fit"),
    "p2": (34, True, True, False, False, 0, 0, "fit"),
    "p3": (25, False, True, False, False, 0, 0, "fit"),
    "p5": (85, True, False, False, False, 0, 13, "severe"),
    "p6": (65, True, False, False, False, 0, 0, "fit"),
}
# person: (gp_contacts_6m, gp_contacts_12m, medications_6m, medications_12m, polypharmacy, ae_6m, ae_12m,
#          emergency_admissions_12m, elective_admissions_12m, bed_days_12m, asc_involved, asc_long_term_support)
EXPECTED_ACTIVITY = {
    "p1": (0, 0, 0, 0, False, 0, 0, 1, 0, 5, True, True),
    "p2": (3, 4, 10, 11, True, 1, 2, 0, 1, 0, False, False),
    "p3": (0, 0, 0, 0, False, 0, 0, 0, 0, 0, False, False),
    "p5": (0, 0, 0, 0, False, 0, 0, 0, 0, 0, False, False),
    "p6": (0, 0, 0, 0, False, 0, 0, 0, 0, 0, False, False),
}


def _frame(rows: list[tuple], columns: dict[str, pl.DataType]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    return frame.with_columns(
        pl.col(c).str.to_date()
        if t == pl.Date
        else (pl.col(c) == "true")
        if t == pl.Boolean
        else pl.col(c).cast(t)
        for c, t in columns.items()
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    con = duckdb.connect()
    con.execute("SET python_enable_replacements=false")
    tables = {
        "person": PERSON,
        "gp_event": _frame(GP_EVENT, {"person_token": pl.String, "event_date": pl.Date, "snomed_code": pl.String}),
        "gp_medication": _frame(MEDS, {"person_token": pl.String, "issue_date": pl.Date, "dmd_code": pl.String}),
        "apc_episode": _frame(APC_EPISODE, {"person_token": pl.String, "admission_date": pl.Date, "diag_01": pl.String,
                                            "diag_02": pl.String, "diag_03": pl.String, "diag_04": pl.String}),
        "apc_spell": _frame(APC_SPELL, {"person_token": pl.String, "admission_date": pl.Date, "discharge_date": pl.Date,
                                        "admission_method": pl.String, "is_emergency": pl.Boolean}),
        "ae_attendance": _frame(AE, {"person_token": pl.String, "arrival_date": pl.Date}),
        "asc_event": _frame(ASC, {"person_token": pl.String, "event_type": pl.String, "event_start": pl.Date,
                                  "event_end": pl.Date, "service_type": pl.String}),
        "ref_codelist": _frame(CODELIST, {"codelist": pl.String, "code": pl.String}).with_columns(term=pl.lit("t")),
    }  # fmt: skip
    for name, frame in tables.items():
        con.register("_t", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _t")
        con.unregister("_t")
    (tmp_path / "efi_deficits.csv").write_text(EFI_CSV)
    return con, tmp_path


def test_columns_match_the_contract(warehouse: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, codelists = warehouse
    assert build_features(con, AS_OF, codelists_dir=codelists) == 5
    described = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE features)").fetchall())
    assert described == FEATURE_COLUMNS


def test_clinical_features_per_person(warehouse: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, codelists = warehouse
    out = compute_features(con, AS_OF, codelists_dir=codelists)
    cols = ["age", "alive", "registered", "has_diabetes", "has_hypertension", "ltc_count", "efi_deficits",
            "frailty_category"]  # fmt: skip
    got = {r[0]: tuple(r[1:]) for r in out.select("person_token", *cols).rows()}
    assert got == EXPECTED_CLINICAL
    assert out.filter(pl.col("person_token") == "p5")["frailty_score"][0] == pytest.approx(13 / 36)


def test_activity_windows_per_person(warehouse: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, codelists = warehouse
    out = compute_features(con, AS_OF, codelists_dir=codelists)
    cols = ["gp_contacts_6m", "gp_contacts_12m", "medications_6m", "medications_12m", "polypharmacy", "ae_6m",
            "ae_12m", "emergency_admissions_12m", "elective_admissions_12m", "bed_days_12m", "asc_involved",
            "asc_long_term_support"]  # fmt: skip
    got = {r[0]: tuple(r[1:]) for r in out.select("person_token", *cols).rows()}
    assert got == EXPECTED_ACTIVITY
    # Missing tables read as no activity, not null.
    assert out["op_appointments_12m"].to_list() == [0] * 5
    assert out["risk_score"].is_null().all()


def test_a_later_date_sees_later_events(warehouse: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, codelists = warehouse
    out = compute_features(con, date(2025, 7, 2), codelists_dir=codelists).filter(
        pl.col("person_token") == "p1"
    )
    assert out["efi_deficits"][0] == 3  # dizziness now recorded
    assert out["emergency_admissions_12m"][0] == 2


def test_deficits_from_per_deficit_codelists(warehouse: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    """Without the CSV, codelists named efi_<deficit> in the warehouse carry the deficit names."""
    con, _ = warehouse
    con.execute(
        "INSERT INTO ref_codelist VALUES ('efi_falls', '161898004', 't'), ('efi_diabetes', '44054006', 't')"
    )
    out = compute_features(con, AS_OF, codelists_dir=None)
    assert dict(out.select("person_token", "efi_deficits").rows())["p1"] == 2
