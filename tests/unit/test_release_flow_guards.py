"""The release against someone trying to abuse it: a register edited after signing, a broken audit chain,
a list opened with the wrong key, a symlinked or foreign outbox, colliding names, consent without evidence."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from pseudonymisation.release import AuditError, AuditLog, OpenListError, open_list
from pseudonymisation.release.release import ReleaseOutcome, release
from pseudonymisation.release.sealing import new_practice_key
from tests.fixtures.release_home import (
    NOW,
    TinyHome,
    consent_csv,
    copy_home,
    make_home,
    nhs_number,
    write_landing,
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module; tests change it, so each takes a copy."""
    return make_home(tmp_path_factory.mktemp("installed"))


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    return copy_home(installed, tmp_path)


def _release(tiny: TinyHome, **overrides: str) -> ReleaseOutcome:
    args = {
        "purpose": "frailty-review",
        "cohort": "frail_65_high_risk",
        "practice": "A81001",
        "user": "gp-a81001",
    }
    args.update(overrides)
    return release(home=tiny.home, landing=tiny.landing, now=NOW, keys=tiny.keys, **args)


def _numbers(tiny: TinyHome, outcome: ReleaseOutcome, practice: str = "A81001") -> set[str]:
    assert outcome.path is not None
    text = open_list(outcome.path, tiny.practice_keys[practice]).plaintext.decode("utf-8")
    return {row["nhs_number"] for row in csv.DictReader(io.StringIO(text))}


def _last(tiny: TinyHome) -> dict[str, object]:
    return json.loads(tiny.home.audit_log.read_text().splitlines()[-1])


# --- the register in force ------------------------------------------------------------------------------


def test_an_installed_register_edited_after_signing_is_refused_and_audited(tiny: TinyHome) -> None:
    installed = tiny.home.governance_bundles / tiny.governance.sha256 / "governance_register.yaml"
    installed.write_text(installed.read_text().replace("cohorts: [frail_65_high_risk]", "cohorts: [x]", 1))
    outcome = _release(tiny)
    assert (outcome.granted, outcome.reason) == (False, "register_refused")
    assert outcome.message.endswith("(changed_since_signing)")
    assert _last(tiny)["reason"] == "register_refused" and _last(tiny)["register_sha256"] is None


def test_a_landing_folder_register_is_never_used(tiny: TinyHome) -> None:
    # A register granting an invented s251 purpose, dropped where the old code looked first.
    (tiny.landing / "registers" / "governance_register.yaml").write_text("purposes: []\n")
    (tiny.home.root / "governance_register.yaml").write_text("purposes: []\n")
    assert _release(tiny, purpose="invented-s251").reason == "unknown_purpose"
    assert _release(tiny).granted


def test_no_installed_bundle_is_refused(tiny: TinyHome) -> None:
    tiny.home.governance_installed.unlink()
    outcome = _release(tiny)
    assert (outcome.reason, outcome.message) == (
        "register_refused",
        "the installed governance bundle is missing or fails verification (no_bundle_installed)",
    )


# --- the audit chain must hold before anything is released ----------------------------------------------


def test_a_release_is_refused_when_the_chain_is_broken_mid_log(tiny: TinyHome) -> None:
    assert _release(tiny).granted
    assert _release(tiny, user="gp-left").reason == "user_not_active"
    lines = tiny.home.audit_log.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["count_released"] = 0  # hide how many were released, mid-log
    lines[2] = json.dumps(edited, sort_keys=True, separators=(",", ":"))
    tiny.home.audit_log.write_text("\n".join(lines) + "\n")
    before = sorted(p.name for p in tiny.home.outbox.rglob("*.hpke"))
    with pytest.raises(AuditError, match="line 3: entry seq 3 does not match its MAC"):
        _release(tiny)
    assert sorted(p.name for p in tiny.home.outbox.rglob("*.hpke")) == before
    assert len(tiny.home.audit_log.read_text().splitlines()) == 4  # nothing appended


# --- sealed to the receiving practice -------------------------------------------------------------------


def test_only_the_receiving_practices_key_opens_the_list(tiny: TinyHome, tmp_path: Path) -> None:
    outcome = _release(tiny)
    assert outcome.path is not None
    assert b"999" not in outcome.path.read_bytes().partition(b"\n")[2]  # ciphertext, not CSV
    assert _numbers(tiny, outcome) == tiny.numbers_at("A81001")
    with pytest.raises(OpenListError, match="does not open with this key"):
        open_list(outcome.path, tiny.practice_keys["A81002"])  # another practice
    stranger = tmp_path / "stranger.key"
    new_practice_key(stranger)
    with pytest.raises(OpenListError, match="sealed to practice A81001"):
        open_list(outcome.path, stranger)


def test_a_practice_without_a_key_in_the_bundle_is_denied(tiny: TinyHome) -> None:
    orgs = tiny.bundle / "organisations.yaml"
    orgs.write_text("\n".join(line for line in orgs.read_text().splitlines() if "A81001" not in line) + "\n")
    tiny.resign_and_install()
    assert _release(tiny).reason == "recipient_key_unavailable"


# --- the outbox -----------------------------------------------------------------------------------------


def test_a_symlinked_outbox_is_refused_and_nothing_lands_in_its_target(
    tiny: TinyHome, tmp_path: Path
) -> None:
    target = tmp_path / "attacker"
    target.mkdir(mode=0o755)
    tiny.home.outbox.symlink_to(target)
    outcome = _release(tiny)
    assert (outcome.reason, outcome.message) == (
        "outbox_unsafe",
        "the outbox path is not safe to write to (symlink, or a folder not private to us) "
        "(outbox on the outbox path is a symlink)",
    )
    assert list(target.iterdir()) == [] and stat.S_IMODE(target.stat().st_mode) == 0o755


def test_a_symlinked_practice_folder_is_refused(tiny: TinyHome, tmp_path: Path) -> None:
    (tiny.home.outbox / "frailty-review").mkdir(mode=0o700, parents=True)
    os.chmod(tiny.home.outbox, 0o700)
    (tiny.home.outbox / "frailty-review" / "A81001").symlink_to(tmp_path)
    assert _release(tiny).reason == "outbox_unsafe"


def test_an_existing_wider_folder_is_refused_not_chmodded(tiny: TinyHome) -> None:
    tiny.home.outbox.mkdir(mode=0o755)
    os.chmod(tiny.home.outbox, 0o755)
    assert _release(tiny).reason == "outbox_unsafe"
    assert stat.S_IMODE(tiny.home.outbox.stat().st_mode) == 0o755


def test_two_releases_in_the_same_second_do_not_collide(tiny: TinyHome) -> None:
    first, second = _release(tiny), _release(tiny)
    assert first.granted and second.granted and first.path != second.path
    assert _numbers(tiny, first) == _numbers(tiny, second)


# --- consent needs evidence -----------------------------------------------------------------------------


def test_consent_releases_only_people_with_active_consent(tiny: TinyHome) -> None:
    outcome = _release(tiny, purpose="consent-study")
    assert outcome.granted
    # 100 consented; 200 withdrew; 600 consented; 100's neighbours at A81001 have no record
    assert _numbers(tiny, outcome) == {nhs_number(100), nhs_number(600)}
    assert outcome.removed_by_route == {"no_consent": 1, "ndoo": 0, "type1": 0}


def test_opt_outs_still_apply_to_consent_unless_the_record_overrides_them(tiny: TinyHome) -> None:
    write_landing(tiny.landing, ndoo=[nhs_number(100), nhs_number(600)])
    outcome = _release(tiny, purpose="consent-study")
    assert _numbers(tiny, outcome) == {nhs_number(600)}  # 600's consent overrides; 100's does not
    assert outcome.removed_by_route == {"no_consent": 1, "ndoo": 1, "type1": 0}


def test_consent_without_evidence_is_denied(tiny: TinyHome) -> None:
    (tiny.bundle / "consent" / "frailty-study.csv").write_text("nhs number\n")  # not a consent register
    tiny.resign_and_install()
    outcome = _release(tiny, purpose="consent-study")
    assert (outcome.granted, outcome.reason) == (False, "consent_evidence_unavailable")
    assert tiny.home.outbox.exists() is False


def test_consent_nobody_gave_releases_nobody(tiny: TinyHome) -> None:
    (tiny.bundle / "consent" / "frailty-study.csv").write_text(consent_csv([]))
    tiny.resign_and_install()
    outcome = _release(tiny, purpose="consent-study")
    assert _numbers(tiny, outcome) == set() and outcome.removed_by_route["no_consent"] == 3


def test_every_entry_verifies_after_the_guards(tiny: TinyHome) -> None:
    _release(tiny)
    _release(tiny, purpose="consent-study")
    assert AuditLog.for_home(tiny.home, tiny.keys).verify().ok
