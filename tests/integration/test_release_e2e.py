"""End to end: load a small ICS through Dagster, release a cohort list with `phm release` and with the
`release_cohort` Dagster job, then check the list, the audit chain, the warehouse and the event log."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value

from cohort.publish import publish_tables
from core.layout import Home
from linkage.warehouse import open_read_only
from phm.cli import main
from pipelines.definitions import build_definitions
from pipelines.defs.cohort.assets import cohorts, published
from pipelines.resources import PhmPaths
from pipelines.runner import load
from pseudonymisation import KeyProvider, Tokeniser
from pseudonymisation.release.register import EXAMPLE_REGISTER, load_register
from pseudonymisation.release.release import outbox_dir
from pseudonymisation.vault import Vault

# Synthetic NHS numbers are 999 000 0000 - 999 999 9999; not inside a token or id (hex, uuid).
NHS_LIKE = re.compile(r"(?<![0-9A-Za-z])999[0-9]{7}(?![0-9A-Za-z])")
REQUESTER = "Dr A Example, GP"


HBA1C_SNOMED = "999791000000106"  # in codelists/measurements_snomed.csv


def _add_hba1c_codelist(home: Home, data: Path, instance: dg.DagsterInstance) -> None:
    """The shipped codelists have no `hba1c` list (diabetes_no_hba1c_12m is skipped without one), and on
    3,000 people the other example cohorts are empty. Add the list to the warehouse's ref_codelist and
    re-materialise the cohort lists, so the release has patients to release."""
    con = open_read_only(home.warehouse)
    try:
        ref = con.sql("SELECT codelist, code, term FROM ref_codelist").pl()
    finally:
        con.close()
    hba1c = ref.filter(pl.col("code") == HBA1C_SNOMED).unique("code").with_columns(codelist=pl.lit("hba1c"))
    assert hba1c.height == 1
    publish_tables(home.warehouse, {"ref_codelist": pl.concat([ref, hba1c])})
    paths = PhmPaths(data=str(data), home=str(home.root))
    assert dg.materialize([cohorts, published], instance=instance, resources={"paths": paths}).success


def _candidates(home: Home) -> list[tuple[str, str, str, int]]:
    """(purpose, cohort, practice, members) for every purpose permitting a cohort to any registered
    practice, most members first."""
    register = load_register(EXAMPLE_REGISTER)
    con = open_read_only(home.warehouse)
    try:
        rows = con.sql(
            "SELECT c.cohort_id, p.practice_code, count(DISTINCT c.person_token) AS n FROM cohort_member c"
            " JOIN person p USING (person_token) WHERE p.practice_code IS NOT NULL AND p.death_month IS NULL"
            " AND p.registration_end IS NULL GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    out = [
        (purpose.id, str(cohort), str(practice), int(n))
        for cohort, practice, n in rows
        for purpose in register.purposes
        if purpose.permits_cohort(str(cohort))
        and purpose.recipients.practices_of_registered_patients
        and purpose.permits_requester("GP")
    ]
    return sorted(out, key=lambda r: (-r[3], r[0], r[1], r[2]))


def _released(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, schema_overrides={"nhs_number": pl.String})


def _check_practice(released: pl.DataFrame, practice: str, truth: pl.DataFrame, home: Home) -> None:
    numbers = released["nhs_number"].to_list()
    assert numbers and all(len(n) == 10 for n in numbers)
    # truth: everyone released is registered at that practice at the end of the period
    at = truth.filter(pl.col("nhs_number").is_in(numbers))
    assert at.height == len(numbers)
    assert set(at["practice_end"].to_list()) == {practice}
    # the vault: tokens of the released numbers are the cohort's, and map back to exactly these numbers
    keys = KeyProvider.from_directory(home.keys)
    tokens = (
        Tokeniser(keys.token_key(), domain="warehouse")
        .tokenise(pl.Series(numbers, dtype=pl.String))
        .to_list()
    )
    with Vault.open(home.vault, keys.vault_key(), read_only=True) as vault:
        assert sorted(vault.reidentify(tokens).values()) == sorted(numbers)
    con = open_read_only(home.warehouse)
    try:
        person = dict(
            con.sql(
                "SELECT person_token, practice_code FROM person WHERE list_contains($t, person_token)",
                params={"t": tokens},
            ).fetchall()
        )
    finally:
        con.close()
    assert set(person) == set(tokens)
    assert set(person.values()) == {practice}


def _warehouse_nhs_hits(home: Home, nhs_numbers: pl.Series) -> dict[str, int]:
    """Per text column, values that are (or contain) a synthetic NHS number, or equal a true one."""
    con = open_read_only(home.warehouse)
    hits: dict[str, int] = {}
    try:
        con.register("truth_nhs", pl.DataFrame({"nhs": nhs_numbers}))
        columns = con.sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = current_database()"
            " AND table_schema = 'main' AND data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:  # identifiers from the catalogue, not from input
            (n,) = con.sql(
                f'SELECT count(*) FROM "{table}" WHERE regexp_matches("{column}", \'(^|[^0-9A-Za-z])999[0-9]{{7}}([^0-9A-Za-z]|$)\')'
                f' OR "{column}" IN (SELECT nhs FROM truth_nhs)'
            ).fetchall()[0]
            if n:
                hits[f"{table}.{column}"] = int(n)
    finally:
        con.close()
    return hits


def test_release_end_to_end(small_ics: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path / "home").prepare()
    truth = pl.read_parquet(small_ics / "truth" / "persons.parquet").select(
        pl.col("nhs_number").cast(pl.String), "practice_end"
    )
    with dg.instance_for_test() as instance:
        load(data=small_ics, home=home, instance=instance)
        _add_hba1c_codelist(home, small_ics, instance)
        candidates = _candidates(home)
        assert candidates, "no cohort member at any practice a purpose permits"
        purpose, cohort, practice, members = candidates[0]
        assert members > 0

        # 1. `phm release` (the synthetic landing register predates the register format: name the shipped one)
        argv = ["--purpose", purpose, "--cohort", cohort, "--practice", practice, "--requester", REQUESTER]
        common = ["--home", str(home.root), "--data", str(small_ics), "--register", str(EXAMPLE_REGISTER)]
        assert main(["release", *argv, *common]) == 0
        capsys.readouterr()
        [path] = sorted((outbox_dir(home) / purpose / practice).glob("*.csv"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        released = _released(path)
        assert released.height > 0
        _check_practice(released, practice, truth, home)

        # 2. the same request through the Dagster job, for the next practice (a different file)
        other = next(c for c in candidates[1:] if c[2] != practice)
        defs = build_definitions(data=str(small_ics), home=str(home.root))
        config = {
            "purpose": other[0], "cohort": other[1], "practice": other[2], "requester": REQUESTER,
            "register_file": str(EXAMPLE_REGISTER),
        }  # fmt: skip
        result = defs.resolve_job_def("release_cohort").execute_in_process(
            instance=instance, run_config={"ops": {"release_cohort_list": {"config": config}}}
        )
        assert result.success
        count = result.output_for_node("release_cohort_list")
        [job_path] = sorted((outbox_dir(home) / other[0] / other[2]).glob("*.csv"))
        job_released = _released(job_path)
        assert count == job_released.height > 0
        _check_practice(job_released, other[2], truth, home)
        assert not set(job_released["nhs_number"]) & set(released["nhs_number"])

        # 3. the audit chain holds
        assert main(["audit", "verify", "--home", str(home.root)]) == 0
        assert "audit log OK: 2 entries" in capsys.readouterr().out

        # 4. no NHS number in the analyst warehouse
        assert _warehouse_nhs_hits(home, truth["nhs_number"]) == {}

        # 5. no NHS number in any Dagster run (the load and the release job): event logs and run records
        true_numbers = set(truth["nhs_number"].to_list())
        runs = instance.get_runs()
        assert len(runs) >= 2
        for run in runs:
            text = serialize_value(run) + "".join(serialize_value(e) for e in instance.all_logs(run.run_id))
            found = set(re.findall(r"(?<![0-9])[0-9]{10}(?![0-9])", text))
            assert not found & true_numbers, f"run {run.job_name} logs an NHS number"
            assert not NHS_LIKE.search(text), f"run {run.job_name} logs something shaped like an NHS number"
