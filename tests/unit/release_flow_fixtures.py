"""A tiny installation for the release-flow tests: warehouse, vault, dev keys, landing registers.

Everything is inline and synthetic (999-range NHS numbers, valid modulus 11). ``make_home`` returns the
paths and the people, so tests can say exactly who should and should not be released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.home import Home
from pseudonymisation import KeyProvider, Tokeniser, Vault
from pseudonymisation.release import GovernanceRegister, load_register

NOW = datetime(2026, 11, 3, 9, 0, 0, tzinfo=UTC)
BUILT_AT = datetime(2026, 11, 1, 6, 0, 0)
COHORT = "frail_65_high_risk"

REGISTER_YAML = """\
purposes:
  - id: frailty-review
    title: Proactive frailty review by the patient's own practice
    legal_basis: individual_care
    approving_body: ICS IG Group
    approved_on: 2026-01-01
    expires_on: 2027-01-01
    cohorts: [frail_65_high_risk]
    recipients:
      practices_of_registered_patients: true
    requesters: [GP, Practice Pharmacist]
    fields: [nhs_number, reason, risk_tier, risk_score]
    ndoo_applies: false
    max_cohort_age_days: 35
  - id: risk-stratification
    title: ICS risk stratification back to the PCN
    legal_basis: s251
    cag_reference: 23/CAG/0001
    approving_body: Confidentiality Advisory Group
    approved_on: 2026-01-15
    expires_on: 2027-01-15
    cohorts: [frail_65_high_risk]
    recipients:
      pcns: [U12345]
    requesters: [GP]
    fields: [nhs_number, risk_tier]
    ndoo_applies: true
    max_cohort_age_days: 31
  - id: daily-huddle
    title: Daily huddle list that must be built the same day
    legal_basis: individual_care
    approving_body: ICS IG Group
    approved_on: 2026-01-01
    expires_on: 2027-01-01
    cohorts: [frail_65_high_risk]
    recipients:
      practices_of_registered_patients: true
    fields: [nhs_number]
    ndoo_applies: false
    max_cohort_age_days: 1
  - id: old-pilot
    title: An expired pilot
    legal_basis: individual_care
    approving_body: ICS IG Group
    approved_on: 2025-10-01
    expires_on: 2026-04-01
    cohorts: [frail_65_high_risk]
    recipients:
      practices: [A81001]
    fields: [nhs_number]
    ndoo_applies: false
    max_cohort_age_days: 14
  - id: future-pilot
    title: A pilot approved for next year
    legal_basis: individual_care
    approving_body: ICS IG Group
    approved_on: 2027-01-01
    expires_on: 2028-01-01
    cohorts: [frail_65_high_risk]
    recipients:
      practices: [A81001]
    fields: [nhs_number]
    ndoo_applies: false
    max_cohort_age_days: 14
"""


def nhs_number(body: int) -> str:
    """A valid modulus-11 NHS number 999xxxxxx? from a 6-digit body (skips bodies whose check is 10)."""
    for n in range(body, body + 50):
        digits = f"999{n:06d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return digits + str(check)
    raise AssertionError("unreachable")


# (NHS body, practice, in cohort, reason, risk score, risk tier)
PEOPLE: tuple[tuple[int, str, bool, str, float, str], ...] = (
    (100, "A81001", True, "eFI severe; no GP contact 6m", 0.91, "very high"),
    (200, "A81001", True, "eFI moderate; 2 A&E 6m", 0.62, "high"),
    (300, "A81001", False, "", 0.10, "low"),
    (400, "A81002", True, "eFI severe", 0.75, "high"),
    (500, "B82005", True, "eFI moderate", 0.55, "high"),
    (600, "A81001", True, "eFI mild; 3 A&E", 0.40, "moderate"),
)
PRACTICES = {"A81001": "U12345", "A81002": "U12345", "B82005": "U23456"}


@dataclass
class TinyHome:
    home: Home
    landing: Path
    register: GovernanceRegister
    keys: KeyProvider
    people: pl.DataFrame  # nhs_number, person_token, practice_code, in_cohort

    def numbers_at(self, practice: str) -> set[str]:
        frame = self.people.filter(pl.col("practice_code") == practice, pl.col("in_cohort"))
        return set(frame["nhs_number"].to_list())


def write_landing(landing: Path, *, ndoo: Sequence[str] = (), type1: Sequence[str] = ()) -> None:
    (landing / "registers").mkdir(parents=True, exist_ok=True)
    (landing / "gp_events").mkdir(parents=True, exist_ok=True)
    lines = ["NHS_Number,Recorded_Date", *(f"{n},2026-10-20" for n in ndoo)]
    (landing / "registers" / "national_data_opt_out.csv").write_text("\n".join(lines) + "\n")
    events = ["NHS_Number,Practice_Code,Event_ID,Event_Date,SNOMED_Code,Value,Unit"]
    events += [f"{n},A81001,E{i},2026-10-02,827241000000103,," for i, n in enumerate(type1)]
    (landing / "gp_events" / "gp_events_2026-10.csv").write_text("\n".join(events) + "\n")


def make_home(tmp: Path) -> TinyHome:
    home = Home(tmp / "home").prepare()
    keys = KeyProvider.dev(home.keys)
    people = pl.DataFrame(
        {
            "nhs_number": [nhs_number(p[0]) for p in PEOPLE],
            "practice_code": [p[1] for p in PEOPLE],
            "in_cohort": [p[2] for p in PEOPLE],
            "reason": [p[3] for p in PEOPLE],
            "risk_score": [p[4] for p in PEOPLE],
            "risk_tier": [p[5] for p in PEOPLE],
        }
    )
    tokens = Tokeniser(keys.token_key()).tokenise(people["nhs_number"])
    people = people.with_columns(person_token=tokens)
    with Vault.open(home.vault.parent, keys.vault_key()) as vault:
        vault.put_many(people["person_token"], people["nhs_number"])
    write_warehouse(home, people)
    staged = people.select("person_token", "practice_code", pl.lit("E1").alias("event_id"))
    home.pseudo_staged("gp_events").mkdir(parents=True, exist_ok=True)
    staged.write_parquet(home.pseudo_staged("gp_events", "2026-10"))
    landing = tmp / "data" / "landing"
    write_landing(landing)
    reg_path = tmp / "register.yaml"
    reg_path.write_text(REGISTER_YAML)
    return TinyHome(home, landing, load_register(reg_path), keys, people)


def write_warehouse(home: Home, people: pl.DataFrame) -> None:
    home.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home.warehouse))
    try:
        con.sql("SET python_enable_replacements=false")
        con.register("people", people.to_arrow())
        con.sql(
            "CREATE TABLE person AS SELECT person_token, practice_code, "
            "NULL::DATE AS registration_end, NULL::VARCHAR AS death_month FROM people"
        )
        con.sql("CREATE TABLE ref_practice (practice_code VARCHAR, pcn_code VARCHAR)")
        for practice, pcn in PRACTICES.items():
            con.execute("INSERT INTO ref_practice VALUES (?, ?)", [practice, pcn])
        con.sql(
            "CREATE TABLE cohort_member AS SELECT '"
            + COHORT
            + "' AS cohort_id, person_token, reason, TIMESTAMP '"
            + BUILT_AT.isoformat(sep=" ")
            + "' AS built_at FROM people WHERE in_cohort"
        )
        con.sql("CREATE TABLE risk_score AS SELECT person_token, risk_score, risk_tier FROM people")
        con.sql(
            "CREATE TABLE opt_out_summary (source VARCHAR, file VARCHAR, month VARCHAR, "
            "practice_code VARCHAR, route VARCHAR, rows BIGINT)"
        )
        rows = [
            ("gp_events", "gp_events/gp_events_2026-09.csv", "2026-09", "A81001", "ndoo", 40),
            ("gp_events", "gp_events/gp_events_2026-10.csv", "2026-10", "A81001", "ndoo", 3),
            ("apc", "apc/apc_2026-10.csv", "2026-10", "A81002", "type1", 12),
        ]
        con.executemany("INSERT INTO opt_out_summary VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.unregister("people")
        con.sql("CHECKPOINT")
    finally:
        con.close()
