"""End to end on the shared load of the small ICS (a private copy of its home, in the Dagster instance
that ran it): set up governance with the explicit `phm governance`
steps (approver key, users register, practice keys, sign, install), release a cohort list with
`phm release` and with the `release_cohort` Dagster job, open each with its practice's key, then check
the lists, the audit chain, the warehouse and the event log."""

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
from pseudonymisation import KeyProvider, Tokeniser
from pseudonymisation.release import open_list
from pseudonymisation.release.register import EXAMPLE_REGISTER, load_register
from pseudonymisation.vault import Vault
from tests.fixtures.cli import phm

# Synthetic NHS numbers are 999 000 0000 - 999 999 9999; not inside a token or id (hex, uuid).
NHS_LIKE = re.compile(r"(?<![0-9A-Za-z])999[0-9]{7}(?![0-9A-Za-z])")
ROLE = "R8000"  # Clinical Practitioner Access Role


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
        and purpose.permits_requester(ROLE)
    ]
    return sorted(out, key=lambda r: (-r[3], r[0], r[1], r[2]))


def _released(path: Path, key: Path) -> pl.DataFrame:
    """The list as its practice opens it (`phm open-list`), with the practice's own key."""
    return pl.read_csv(open_list(path, key).plaintext, schema_overrides={"nhs_number": pl.String})


def _set_up_governance(
    home: Home, tmp: Path, practices: list[str], capsys: pytest.CaptureFixture[str]
) -> dict[str, Path]:
    """The explicit steps a non-default home takes: approver key and install, a bundle of the shipped
    register, a GP per practice and each practice's public key, signed and installed. Returns the
    practices' private keys (the practice side)."""
    approver = tmp / "approver.key"
    assert main(["governance", "keygen", "--out", str(approver)]) == 0
    assert main(["governance", "approver", "add", "--id", "ig-lead", "--public-key", f"{approver}.pub",
                 "--home", str(home.root)]) == 0  # fmt: skip
    bundle = tmp / "bundle"
    bundle.mkdir()
    (bundle / "governance_register.yaml").write_text(EXAMPLE_REGISTER.read_text())
    users = [f"  - {{id: gp-{p.lower()}, name: Dr {p}, rbac_role_code: {ROLE}, rbac_role_title: Clinical "
             f"Practitioner Access Role, organisations: [{p}], active_from: 2026-01-01}}" for p in practices]  # fmt: skip
    (bundle / "users.yaml").write_text("users:\n" + "\n".join(users) + "\n")
    keys: dict[str, Path] = {}
    orgs = []
    for practice in practices:
        keys[practice] = tmp / "practice_side" / f"{practice}.key"
        keys[practice].parent.mkdir(mode=0o700, exist_ok=True)
        capsys.readouterr()
        assert main(["governance", "practice-keygen", "--out", str(keys[practice])]) == 0
        public = capsys.readouterr().out.rsplit("hpke_public_key: ", 1)[1].strip()
        orgs.append(f"  - {{ods: {practice}, name: Practice {practice}, hpke_public_key: '{public}'}}")
    (bundle / "organisations.yaml").write_text("organisations:\n" + "\n".join(orgs) + "\n")
    assert main(["governance", "sign", str(bundle), "--key", str(approver), "--approver", "ig-lead"]) == 0
    assert main(["governance", "install", str(bundle), "--home", str(home.root)]) == 0
    capsys.readouterr()
    return keys


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


def test_release_end_to_end(
    small_ics: Path,
    loaded_copy: Home,
    load_instance_copy: dg.DagsterInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = loaded_copy
    instance = load_instance_copy
    truth = pl.read_parquet(small_ics / "truth" / "persons.parquet").select(
        pl.col("nhs_number").cast(pl.String), "practice_end"
    )
    _add_hba1c_codelist(home, small_ics, instance)
    candidates = _candidates(home)
    assert candidates, "no cohort member at any practice a purpose permits"
    purpose, cohort, practice, members = candidates[0]
    assert members > 0
    other = next(c for c in candidates[1:] if c[2] != practice)
    practice_keys = _set_up_governance(home, tmp_path, [practice, other[2]], capsys)

    # 1. `phm release` (a real process), by the GP of the receiving practice
    argv = [
        "--purpose",
        purpose,
        "--cohort",
        cohort,
        "--practice",
        practice,
        "--user",
        f"gp-{practice.lower()}",
    ]
    granted = phm("release", *argv, "--home", str(home.root), "--data", str(small_ics))
    assert granted.returncode == 0, granted.stderr
    [path] = sorted((home.outbox / purpose / practice).glob("*.csv.hpke"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    released = _released(path, practice_keys[practice])
    assert released.height > 0
    _check_practice(released, practice, truth, home)

    # 2. the same request through the Dagster job, for the next practice (a different file)
    defs = build_definitions(data=str(small_ics), home=str(home.root))
    config = {"purpose": other[0], "cohort": other[1], "practice": other[2], "user": f"gp-{other[2].lower()}"}
    result = defs.resolve_job_def("release_cohort").execute_in_process(
        instance=instance, run_config={"ops": {"release_cohort_list": {"config": config}}}
    )
    assert result.success
    count = result.output_for_node("release_cohort_list")
    [job_path] = sorted((home.outbox / other[0] / other[2]).glob("*.csv.hpke"))
    job_released = _released(job_path, practice_keys[other[2]])
    assert count == job_released.height > 0
    _check_practice(job_released, other[2], truth, home)
    assert not set(job_released["nhs_number"]) & set(released["nhs_number"])

    # 3. the audit chain holds: approver add, install, two grants
    verified = phm("audit", "verify", "--home", str(home.root))
    assert verified.returncode == 0, verified.stderr
    assert "audit log OK: 4 entries" in verified.stdout

    # 4. no NHS number in the analyst warehouse
    assert _warehouse_nhs_hits(home, truth["nhs_number"]) == {}

    # 5. no NHS number in any Dagster run (the load, the cohort refresh and the release job): event logs
    # and run records
    true_numbers = set(truth["nhs_number"].to_list())
    runs = instance.get_runs()
    assert sorted(run.job_name for run in runs) == ["__ephemeral_asset_job__", "load_all", "release_cohort"]
    for run in runs:
        text = serialize_value(run) + "".join(serialize_value(e) for e in instance.all_logs(run.run_id))
        found = set(re.findall(r"(?<![0-9])[0-9]{10}(?![0-9])", text))
        assert not found & true_numbers, f"run {run.job_name} logs an NHS number"
        assert not NHS_LIKE.search(text), f"run {run.job_name} logs something shaped like an NHS number"
