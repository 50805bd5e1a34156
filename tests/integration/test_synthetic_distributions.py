"""The synthetic ICS looks like England: demographics, prevalence, activity, defects, oracle."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from connectors.spec import PATTERNS
from synthetic import GeneratorConfig, generate
from synthetic.codes import codelist
from synthetic.config import Calendar, DefectRates
from synthetic.people import _PYRAMID

# `slow`: a 5,000-person, 24-month ICS generated; tests/conftest.py hands slow modules to workers first.
pytestmark = pytest.mark.slow

PERSONS = 5_000
CAL = Calendar("2026-10", 24)


@pytest.fixture(scope="module")
def ics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ics")
    generate(GeneratorConfig(persons=PERSONS, seed=11), out)
    return out


@pytest.fixture(scope="module")
def persons(ics: Path) -> pl.DataFrame:
    return pl.read_parquet(ics / "truth/persons.parquet")


@pytest.fixture(scope="module")
def records(ics: Path) -> pl.DataFrame:
    return pl.read_parquet(ics / "truth/records.parquet").with_columns(
        pl.col("source", "file").cast(pl.String)
    )


def _read(ics: Path, source: str) -> pl.DataFrame:
    files = sorted((ics / "landing" / source).glob("*.csv"))
    return pl.concat(
        [pl.read_csv(f, infer_schema=False, quote_char=None, truncate_ragged_lines=True) for f in files]
    )


def _person_years(persons: pl.DataFrame) -> float:
    dob = persons["date_of_birth"].cast(pl.Int32).to_numpy()
    death = persons["date_of_death"].cast(pl.Int32).fill_null(CAL.end).to_numpy()
    return float((np.minimum(death, CAL.end) - np.maximum(dob, CAL.start) + 1).clip(0).sum() / 365.25)


def test_age_sex_pyramid(persons: pl.DataFrame) -> None:
    initial = persons.filter(~pl.col("born_in_period"))
    age = (CAL.start - initial["date_of_birth"].cast(pl.Int32).to_numpy()) / 365.25
    expected = _PYRAMID / _PYRAMID.sum()
    for lo, hi in ((0, 15), (15, 45), (45, 65), (65, 85), (85, 101)):
        share = ((age >= lo) & (age < hi)).mean()
        assert share == pytest.approx(expected[lo // 5 : hi // 5].sum(), abs=0.025), (lo, hi)
    assert (initial["sex"] == "F").mean() == pytest.approx(0.505, abs=0.03)
    old = initial.filter(pl.Series(age >= 85))
    assert (old["sex"] == "F").mean() > 0.55


def test_ethnicity_proportions(persons: pl.DataFrame) -> None:
    share = persons["ethnic_category"].value_counts(normalize=True)
    s = dict(zip(share["ethnic_category"], share["proportion"], strict=True))
    assert s["A"] == pytest.approx(0.74, abs=0.05)
    assert sum(s.get(c, 0) for c in "HJKL") == pytest.approx(0.089, abs=0.04)
    assert sum(s.get(c, 0) for c in "MNP") == pytest.approx(0.041, abs=0.025)


@pytest.mark.parametrize(
    ("condition", "adults_only", "expected", "tol"),
    [
        ("hypertension", False, 0.14, 0.025),
        ("diabetes", True, 0.07, 0.02),
        ("asthma", False, 0.065, 0.015),
        ("copd", False, 0.02, 0.008),
        ("atrial_fibrillation", False, 0.02, 0.008),
        ("dementia", False, 0.008, 0.006),
        ("depression", True, 0.13, 0.025),
        ("chd", False, 0.03, 0.01),
    ],
)
def test_condition_prevalence(
    persons: pl.DataFrame, condition: str, adults_only: bool, expected: float, tol: float
) -> None:
    p = persons.filter(~pl.col("born_in_period"))
    if adults_only:
        p = p.filter(pl.col("date_of_birth").cast(pl.Int32) <= CAL.start - 18 * 365.25)
    assert p[f"has_{condition}"].mean() == pytest.approx(expected, abs=tol)


def test_conditions_are_recorded_in_gp_events(ics: Path, persons: pl.DataFrame) -> None:
    events = _read(ics, "gp_events").with_columns(pl.col("SNOMED_Code").str.strip_chars())
    coded = set(
        events.filter(pl.col("SNOMED_Code").is_in(codelist("diabetes_snomed")))["NHS_Number"].to_list()
    )
    diabetic = persons.filter(pl.col("has_diabetes") & pl.col("registration_start").is_not_null())
    seen = diabetic["nhs_number"].is_in(list(coded)).mean()
    assert seen > 0.97
    hba1c = events.filter(pl.col("SNOMED_Code") == "999791000000106")
    assert diabetic["nhs_number"].is_in(hba1c["NHS_Number"].unique().to_list()).mean() > 0.75


def test_activity_rates_per_person_year(ics: Path, persons: pl.DataFrame, records: pl.DataFrame) -> None:
    py = _person_years(persons)
    clean = records.filter(~pl.col("duplicate"))
    counts = dict(clean.group_by("source").len().iter_rows())
    assert counts["outpatients"] / py == pytest.approx(2.0, rel=0.12)
    assert counts["ecds"] / py == pytest.approx(0.45, rel=0.15)
    assert counts["csds"] / py == pytest.approx(2.0, rel=0.3)
    events = _read(ics, "gp_events")
    consults = events.filter(
        pl.col("SNOMED_Code").str.strip_chars().is_in(codelist("gp_consultation_snomed"))
    ).height
    assert consults / py == pytest.approx(6.0 * 0.995, rel=0.08)  # slightly fewer: unregistered time
    apc = _read(ics, "apc").unique(subset=["SUSSPELLID"])
    emergency = apc.filter(pl.col("ADMIMETH").str.starts_with("2")).height
    elective = apc.filter(pl.col("ADMIMETH").str.starts_with("1")).height
    assert emergency / py == pytest.approx(0.11, rel=0.2)
    assert elective / py == pytest.approx(0.15, rel=0.2)
    mh_people = _read(ics, "mhsds").filter(pl.col("Record_Type") == "REFERRAL")["NHS_Number"].n_unique()
    assert mh_people / PERSONS == pytest.approx(0.055, abs=0.02)


def test_defect_rates_match_config(ics: Path, records: pl.DataFrame) -> None:
    r = DefectRates()
    by = records.group_by("source").agg(pl.len().alias("n"), *[pl.col(c).mean() for c in records.columns[5:]])
    rate = {row["source"]: row for row in by.iter_rows(named=True)}
    n_asc = rate["asc_cld"]["n"]
    tol = 4.5 * (r.missing_nhs_asc * (1 - r.missing_nhs_asc) / n_asc) ** 0.5
    assert rate["asc_cld"]["nhs_missing"] == pytest.approx(r.missing_nhs_asc, abs=tol)
    for src in ("apc", "ecds", "outpatients", "csds"):
        assert rate[src]["nhs_missing"] == pytest.approx(r.missing_nhs_other, abs=0.01), src
        assert rate[src]["nhs_formatted"] == pytest.approx(r.nhs_formatted, abs=0.012), src
        assert rate[src]["nhs_bad_check_digit"] == pytest.approx(r.bad_check_digit, abs=0.004), src
    for src in ("gp_patients", "gp_events", "gp_medications"):
        assert rate[src]["nhs_missing"] == 0 and rate[src]["nhs_formatted"] == 0
    assert rate["outpatients"]["ethnicity_missing"] == pytest.approx(r.missing_ethnicity_acute, abs=0.02)
    assert rate["gp_patients"]["ethnicity_missing"] == pytest.approx(r.missing_ethnicity_gp, abs=0.04)
    everything = records.select(pl.col("duplicate", "bad_date", "unknown_code").mean()).row(0)
    assert everything[0] == pytest.approx(r.duplicate_row, abs=0.0015)
    assert everything[1] == pytest.approx(r.bad_date, abs=0.0007)
    counted = json.loads((ics / "truth/defects.json").read_text())
    for row in (
        records.group_by("source").agg(pl.col(c).sum() for c in records.columns[5:]).iter_rows(named=True)
    ):
        assert {k: v for k, v in row.items() if k != "source"} == counted[row["source"]]


def test_registers_and_reference_files_are_well_formed(ics: Path, persons: pl.DataFrame) -> None:
    landing = ics / "landing"
    practices = pl.read_csv(landing / "reference/practices.csv", infer_schema=False)
    assert (
        practices.height >= 24
        and practices["PCN_Code"].n_unique() >= 8
        and practices["Place"].n_unique() == 3
    )
    assert all(re.match(PATTERNS["ods_practice"], c) for c in practices["Practice_Code"])
    assert all(re.match(r"^U\d{5}$", c) for c in practices["PCN_Code"])
    lsoa = pl.read_csv(landing / "reference/lsoa_imd.csv", infer_schema=False)
    assert all(re.match(PATTERNS["lsoa21"], c) for c in lsoa["LSOA21CD"])
    assert set(lsoa["IMD_Decile"].cast(int)) <= set(range(1, 11))
    pcs = pl.read_csv(landing / "reference/postcode_lsoa.csv", infer_schema=False)
    assert all(re.match(PATTERNS["postcode"], c) for c in pcs["Postcode"])
    assert pcs["Postcode"].n_unique() == pcs.height
    assert pl.read_csv(landing / "registers/non_sharing_practices.csv").height == 3
    ndoo = pl.read_csv(landing / "registers/national_data_opt_out.csv", infer_schema=False)
    assert ndoo.height / persons.height == pytest.approx(0.05, abs=0.015)
    assert persons["type1_opt_out"].mean() == pytest.approx(0.03, abs=0.012)


def test_practice_deprivation_differs(persons: pl.DataFrame) -> None:
    by = (
        persons.group_by("practice_start")
        .agg(pl.col("imd_decile").mean(), pl.len())
        .filter(pl.col("len") > 50)
    )
    assert by["imd_decile"].max() - by["imd_decile"].min() > 2.5


def test_oracle_is_calibrated_and_predictive(persons: pl.DataFrame) -> None:
    e = persons.filter(pl.col("oracle_eligible"))
    p = e["p_emerg_12m"].to_numpy()
    y = e["outcome_emerg_12m"].to_numpy().astype(bool)
    assert ((p > 0) & (p < 1)).all()
    assert y.mean() == pytest.approx(p.mean(), abs=0.012)
    ranks = p.argsort().argsort() + 1
    auc = (ranks[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum())
    assert 0.72 < auc < 0.9


def test_no_activity_after_death_and_first_month_is_a_full_register(ics: Path, persons: pl.DataFrame) -> None:
    dead = persons.filter(pl.col("date_of_death").is_not_null()).select("nhs_number", "date_of_death")
    events = _read(ics, "gp_events").filter(pl.col("Event_Date").str.len_chars() == 10)
    events = events.with_columns(d=pl.col("Event_Date").str.to_date(strict=False)).drop_nulls("d")
    late = events.join(dead, left_on="NHS_Number", right_on="nhs_number").filter(
        pl.col("d") > pl.col("date_of_death")
    )
    assert late.height <= events.height * 0.0015  # only future-date defects
    first = pl.read_csv(
        ics / "landing/gp_patients/gp_patients_2024-11.csv",
        infer_schema=False,
        quote_char=None,
        truncate_ragged_lines=True,
    )
    registered = persons.filter(pl.col("registration_start") <= pl.date(2024, 11, 30))
    registered = registered.filter(
        pl.col("date_of_death").is_null() | (pl.col("date_of_death") >= pl.date(2024, 11, 1))
    )
    assert first["NHS_Number"].n_unique() == pytest.approx(registered.height, abs=3)
