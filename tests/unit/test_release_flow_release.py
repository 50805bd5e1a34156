"""The governed release: every denial (no output, audited), known users, practice scoping, sealed lists,
opt-outs now, consent evidence, tamper, audit."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pwd
import stat
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pseudonymisation import KeyProvider
from pseudonymisation.release import AuditLog, open_list
from pseudonymisation.release.release import release
from tests.fixtures.release_home import NOW, TinyHome, copy_home, make_home, nhs_number, write_landing


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module; tests change it, so each takes a copy."""
    return make_home(tmp_path_factory.mktemp("installed"))


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    return copy_home(installed, tmp_path)


def _release(tiny: TinyHome, **overrides: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "home": tiny.home,
        "landing": tiny.landing,
        "purpose": "frailty-review",
        "cohort": "frail_65_high_risk",
        "practice": "A81001",
        "user": "gp-a81001",
        "now": NOW,
        "keys": tiny.keys,
    }
    args.update(overrides)
    return release(**args)  # type: ignore[arg-type]


def _rows(tiny: TinyHome, path: Path, practice: str = "A81001") -> list[dict[str, str]]:
    """The list as the receiving practice opens it, with its own private key."""
    text = open_list(path, tiny.practice_keys[practice]).plaintext.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _entries(tiny: TinyHome) -> list[dict[str, object]]:
    """The release entries (the fixture's approver add and bundle install come first)."""
    lines = tiny.home.audit_log.read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "release"]


def _verified(tiny: TinyHome) -> bool:
    return AuditLog.for_home(tiny.home, tiny.keys).verify().ok


def _no_output(tiny: TinyHome) -> bool:
    box = tiny.home.outbox
    return not box.exists() or not any(p.is_file() for p in box.rglob("*"))


# --- granted -------------------------------------------------------------------------------------------


def test_grant_lists_only_that_practices_patients_with_minimum_fields(tiny: TinyHome) -> None:
    outcome = _release(tiny)
    assert outcome.granted and outcome.reason is None
    assert outcome.path is not None
    rows = _rows(tiny, outcome.path)
    assert list(rows[0]) == ["nhs_number", "reason", "risk_tier", "risk_score"]
    assert {r["nhs_number"] for r in rows} == tiny.numbers_at("A81001")
    assert len(rows) == 3 == outcome.count_released
    other = tiny.numbers_at("A81002") | tiny.numbers_at("B82005")
    assert not other & {r["nhs_number"] for r in rows}
    assert outcome.path.parent == tiny.home.outbox / "frailty-review" / "A81001"
    assert outcome.path.name.startswith("frailty-review_A81001_20261103T090000Z_")
    assert outcome.path.name.endswith(".csv.hpke")
    assert stat.S_IMODE(outcome.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(outcome.path.parent.stat().st_mode) == 0o700
    first = next(r for r in rows if r["nhs_number"] == nhs_number(100))
    assert first == {
        "nhs_number": nhs_number(100),
        "reason": "eFI severe; no GP contact 6m",
        "risk_tier": "very high",
        "risk_score": "0.9100",
    }


def test_grant_is_audited_with_count_and_hash_but_no_nhs_number(tiny: TinyHome) -> None:
    outcome = _release(tiny)
    assert outcome.path is not None
    [entry] = _entries(tiny)
    assert entry["outcome"] == "granted"
    assert entry["count_released"] == 3
    assert entry["output_sha256"] == hashlib.sha256(outcome.path.read_bytes()).hexdigest()
    assert entry["user"] == "gp-a81001"
    assert entry["os_account"] == pwd.getpwuid(os.geteuid()).pw_name
    assert entry["register_sha256"] == tiny.governance.sha256
    assert entry["time"] == "2026-11-03T09:00:00.000Z"
    text = tiny.home.audit_log.read_text()
    for number in tiny.people["nhs_number"].to_list():
        assert number not in text
    assert _verified(tiny)


def test_pcn_purpose_releases_to_member_practice_only_its_own_patients(tiny: TinyHome) -> None:
    outcome = _release(tiny, purpose="risk-stratification", practice="A81002", user="gp-pcn-u12345")
    assert outcome.granted and outcome.path is not None
    rows = _rows(tiny, outcome.path, "A81002")
    assert {r["nhs_number"] for r in rows} == tiny.numbers_at("A81002")
    assert list(rows[0]) == ["nhs_number", "risk_tier"]


def test_ndoo_registered_after_load_is_not_released_when_it_applies(tiny: TinyHome) -> None:
    late = nhs_number(400)  # in the warehouse and the cohort; opts out after the last load
    write_landing(tiny.landing, ndoo=[late])
    outcome = _release(tiny, purpose="risk-stratification", practice="A81002", user="gp-pcn-u12345")
    assert outcome.granted and outcome.path is not None
    assert _rows(tiny, outcome.path, "A81002") == []
    assert outcome.removed_by_route == {"ndoo": 1, "type1": 0}
    assert _entries(tiny)[-1]["count_released"] == 0


def test_type1_recorded_after_load_wins_beyond_individual_care(tiny: TinyHome) -> None:
    write_landing(tiny.landing, type1=[nhs_number(400)])
    outcome = _release(tiny, purpose="risk-stratification", practice="A81002", user="gp-pcn-u12345")
    assert outcome.path is not None and _rows(tiny, outcome.path, "A81002") == []
    assert outcome.removed_by_route == {"ndoo": 0, "type1": 1}


def test_individual_care_ignores_ndoo_and_type1_as_the_rules_say(tiny: TinyHome) -> None:
    write_landing(tiny.landing, ndoo=[nhs_number(100)], type1=[nhs_number(200)])
    outcome = _release(tiny)
    assert outcome.path is not None
    assert {r["nhs_number"] for r in _rows(tiny, outcome.path)} == tiny.numbers_at("A81001")
    assert outcome.removed_by_route == {}


def test_deceased_or_deregistered_people_are_not_released(tiny: TinyHome) -> None:
    token = tiny.people.filter(tiny.people["nhs_number"] == nhs_number(600))["person_token"][0]
    con = duckdb.connect(str(tiny.home.warehouse))
    con.execute("UPDATE person SET registration_end = DATE '2026-09-30' WHERE person_token = ?", [token])
    con.close()
    outcome = _release(tiny)
    assert outcome.path is not None
    assert nhs_number(600) not in {r["nhs_number"] for r in _rows(tiny, outcome.path)}


# --- denied: one test per reason, each with no output and one audited denial ---------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"purpose": "no-such-purpose"}, "unknown_purpose"),
        ({"purpose": "old-pilot"}, "purpose_not_active"),
        ({"purpose": "future-pilot"}, "purpose_not_active"),
        ({"now": NOW.replace(year=2027, month=1, day=1)}, "purpose_not_active"),  # expires_on itself
        ({"cohort": "diabetes_no_hba1c_12m"}, "cohort_not_permitted"),
        ({"purpose": "risk-stratification", "practice": "B82005"}, "practice_not_permitted"),
        ({"practice": "not-a-code"}, "practice_not_permitted"),
        ({"user": "nobody"}, "unknown_user"),
        ({"user": "Dr A Example, GP"}, "unknown_user"),  # free text is not a user
        ({"user": "gp-left"}, "user_not_active"),  # left the practice in June
        ({"user": "admin-a81001"}, "requester_not_permitted"),  # R8008 is not an approved role
        ({"user": "gp-b82005"}, "user_not_in_organisation"),  # asks for a practice they do not work at
        ({"practice": "A81002"}, "user_not_in_organisation"),
        ({"purpose": "daily-huddle"}, "cohort_stale"),
        ({"now": NOW + timedelta(days=40)}, "cohort_stale"),
    ],
)
def test_denials_leave_no_output_and_are_audited(
    tiny: TinyHome, overrides: dict[str, object], reason: str
) -> None:
    outcome = _release(tiny, **overrides)
    assert not outcome.granted
    assert outcome.reason == reason
    assert outcome.path is None and outcome.count_released == 0
    assert _no_output(tiny)
    [entry] = _entries(tiny)
    assert entry["outcome"] == "denied" and entry["reason"] == reason
    assert entry["count_released"] == 0 and entry["output_sha256"] is None
    assert entry["register_sha256"] == tiny.governance.sha256
    assert _verified(tiny)


def test_cohort_not_built_is_denied(tiny: TinyHome) -> None:
    con = duckdb.connect(str(tiny.home.warehouse))
    con.execute("DELETE FROM cohort_member")
    con.close()
    outcome = _release(tiny)
    assert outcome.reason == "cohort_unavailable" and _no_output(tiny)


def test_missing_vault_key_is_denied(tiny: TinyHome, tmp_path: Path) -> None:
    keys_only_token = tmp_path / "token_only"
    keys_only_token.mkdir(mode=0o700)
    for name in ("token_key_v1.key", "audit_key_v1.key", "current_version"):
        target = keys_only_token / name
        target.write_bytes((tiny.home.keys / name).read_bytes())
        os.chmod(target, 0o600)
    outcome = _release(tiny, keys=KeyProvider.from_directory(keys_only_token))
    assert outcome.reason == "vault_key_unavailable" and _no_output(tiny)
    assert _entries(tiny)[-1]["reason"] == "vault_key_unavailable"


def test_env_provider_without_vault_key_is_denied(tiny: TinyHome) -> None:
    audit_key = (tiny.home.keys / "audit_key_v1.key").read_text().strip()
    outcome = _release(tiny, keys=KeyProvider.from_env({"PHM_AUDIT_KEY": audit_key}))
    assert outcome.reason == "vault_key_unavailable" and _no_output(tiny)


def test_wrong_vault_key_is_refused_as_tamper(tiny: TinyHome, tmp_path: Path) -> None:
    # The same keys but a fresh vault key of the same name -> every entry fails authentication.
    other = tmp_path / "other_keys"
    other.mkdir(mode=0o700)
    for name in ("token_key_v1.key", "audit_key_v1.key", "current_version"):
        (other / name).write_bytes((tiny.home.keys / name).read_bytes())
        os.chmod(other / name, 0o600)
    outcome = _release(tiny, keys=KeyProvider.dev(other))
    assert outcome.reason == "vault_tamper" and _no_output(tiny)


def test_tampered_vault_entry_is_refused_and_recorded(tiny: TinyHome) -> None:
    con = duckdb.connect(str(tiny.home.vault))
    token = tiny.people.filter(tiny.people["nhs_number"] == nhs_number(100))["person_token"][0]
    [(blob,)] = con.execute("SELECT ciphertext FROM vault WHERE token = ?", [token]).fetchall()
    flipped = bytes([blob[0] ^ 0x01]) + bytes(blob[1:])  # one bit of one entry
    con.execute("UPDATE vault SET ciphertext = ? WHERE token = ?", [flipped, token])
    con.close()
    outcome = _release(tiny)
    assert not outcome.granted and outcome.reason == "vault_tamper"
    assert _no_output(tiny)
    assert _entries(tiny)[-1]["reason"] == "vault_tamper"


def test_missing_opt_out_register_is_denied(tiny: TinyHome) -> None:
    (tiny.landing / "registers" / "national_data_opt_out.csv").unlink()
    outcome = _release(tiny)
    assert outcome.reason == "opt_out_registers_unavailable" and _no_output(tiny)


def test_request_text_that_looks_like_an_nhs_number_is_withheld_from_the_log(tiny: TinyHome) -> None:
    outcome = _release(tiny, user=f"{nhs_number(100)}, GP", cohort=nhs_number(200))
    assert outcome.reason == "cohort_not_permitted"
    text = tiny.home.audit_log.read_text()
    assert nhs_number(100) not in text and nhs_number(200) not in text
    [entry] = _entries(tiny)
    assert entry["user"] is None and entry["cohort"] is None  # never free text in the log


def test_many_attempts_keep_the_chain_and_never_log_nhs_numbers(tiny: TinyHome) -> None:
    write_landing(tiny.landing, ndoo=[nhs_number(400)])
    _release(tiny)
    _release(tiny, purpose="old-pilot")
    _release(tiny, purpose="risk-stratification", practice="A81002", user="gp-pcn-u12345")
    _release(tiny, practice="B82005", user="gp-b82005")
    result = AuditLog.for_home(tiny.home, tiny.keys).verify()
    assert result.ok and result.entries == 2 + 4  # approver add, bundle install, four requests
    text = tiny.home.audit_log.read_text()
    assert all(n not in text for n in tiny.people["nhs_number"].to_list())


def test_warehouse_holds_no_nhs_number_after_releases(tiny: TinyHome) -> None:
    _release(tiny)
    _release(tiny, purpose="risk-stratification", practice="A81002", user="gp-pcn-u12345")
    con = duckdb.connect(str(tiny.home.warehouse), read_only=True)
    tables = con.sql("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    numbers = set(tiny.people["nhs_number"].to_list())
    for table, column in tables:
        values = {str(v) for (v,) in con.sql(f'SELECT "{column}"::VARCHAR FROM "{table}"').fetchall()}
        assert not values & numbers, (table, column)
    con.close()
