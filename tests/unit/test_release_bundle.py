"""The governance bundle: only a bundle an installed approver signed, unchanged since, takes effect."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pseudonymisation.release import GovernanceError, install_bundle, load_installed, sign_bundle
from pseudonymisation.release.bundle import new_approver_key, verify_bundle
from pseudonymisation.release.setup import add_approver_audited, install_audited
from tests.fixtures.release_home import APPROVER, NOW, USERS_YAML, TinyHome, copy_home, make_home


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module; tests change it, so each takes a copy."""
    return make_home(tmp_path_factory.mktemp("installed"))


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    return copy_home(installed, tmp_path)


def _refused(tiny: TinyHome, folder: Path) -> GovernanceError:
    with pytest.raises(GovernanceError) as caught:
        install_bundle(tiny.home, folder)
    return caught.value


def _events(tiny: TinyHome) -> list[tuple[str, str, str | None]]:
    entries = [json.loads(line) for line in tiny.home.audit_log.read_text().splitlines()]
    return [(e["event"], e["outcome"], e["reason"]) for e in entries]


def test_the_fixture_install_is_signed_audited_and_private(tiny: TinyHome) -> None:
    assert tiny.governance.approver == APPROVER
    assert _events(tiny) == [("approver_add", "granted", None), ("register_install", "granted", None)]
    last = json.loads(tiny.home.audit_log.read_text().splitlines()[-1])
    assert last["register_sha256"] == tiny.governance.sha256
    installed = tiny.home.governance_bundles / tiny.governance.sha256
    assert stat.S_IMODE(installed.stat().st_mode) == 0o700
    assert stat.S_IMODE((installed / "users.yaml").stat().st_mode) == 0o600
    assert load_installed(tiny.home).sha256 == tiny.governance.sha256


def test_an_unsigned_register_is_refused(tiny: TinyHome) -> None:
    (tiny.bundle / "manifest.sig").unlink()
    error = _refused(tiny, tiny.bundle)
    assert error.reason == "unsigned"
    assert str(error) == (
        f"governance bundle refused (unsigned): {tiny.bundle} has no manifest.sig: an approver must sign it"
    )


def test_a_register_edited_after_signing_is_refused(tiny: TinyHome) -> None:
    register = tiny.bundle / "governance_register.yaml"
    register.write_text(register.read_text().replace("legal_basis: s251", "legal_basis: public_health", 1))
    error = _refused(tiny, tiny.bundle)
    assert (error.reason, str(error)) == (
        "changed_since_signing",
        "governance bundle refused (changed_since_signing): governance_register.yaml was changed after signing",
    )


def test_a_file_added_after_signing_is_refused(tiny: TinyHome) -> None:
    (tiny.bundle / "consent" / "late.csv").write_text(
        "nhs_number,consent_given,consent_withdrawn,overrides_opt_outs\n"
    )
    assert _refused(tiny, tiny.bundle).reason == "changed_since_signing"


def test_a_caller_signing_with_their_own_key_is_refused(tiny: TinyHome, tmp_path: Path) -> None:
    own = tmp_path / "own.key"
    new_approver_key(own)
    sign_bundle(tiny.bundle, own, APPROVER, now=NOW)  # claims to be the approver, with another key
    assert _refused(tiny, tiny.bundle).reason == "bad_signature"
    sign_bundle(tiny.bundle, own, "someone-else", now=NOW)  # or names an approver nobody installed
    error = _refused(tiny, tiny.bundle)
    assert (error.reason, str(error)) == (
        "unknown_approver",
        "governance bundle refused (unknown_approver): 'someone-else' is not an installed approver",
    )


def test_an_edited_manifest_is_refused(tiny: TinyHome) -> None:
    manifest = tiny.bundle / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"signed_at": "', '"signed_at": "1'))
    assert _refused(tiny, tiny.bundle).reason == "bad_signature"


def test_a_failed_install_is_audited_and_the_old_bundle_stays_in_force(tiny: TinyHome) -> None:
    (tiny.bundle / "manifest.sig").unlink()
    with pytest.raises(GovernanceError):
        install_audited(tiny.home, tiny.keys, tiny.bundle)
    assert _events(tiny)[-1] == ("register_install", "denied", "unsigned")
    assert load_installed(tiny.home).sha256 == tiny.governance.sha256


def test_signing_checks_the_files_first(tiny: TinyHome) -> None:
    (tiny.bundle / "users.yaml").write_text(
        USERS_YAML.replace("rbac_role_code: R8003", "rbac_role_code: pharmacist", 1)
    )
    with pytest.raises(GovernanceError) as caught:
        sign_bundle(tiny.bundle, tiny.approver_key, APPROVER, now=NOW)
    assert caught.value.reason == "invalid_register"
    assert str(caught.value).endswith("users.yaml:4: users[1].rbac_role_code: 'pharmacist' is not a national RBAC role code like 'R8000'")  # fmt: skip


def test_a_consent_purpose_must_bundle_its_evidence(tiny: TinyHome) -> None:
    (tiny.bundle / "consent" / "frailty-study.csv").unlink()
    with pytest.raises(GovernanceError) as caught:
        sign_bundle(tiny.bundle, tiny.approver_key, APPROVER, now=NOW)
    assert str(caught.value) == (
        "governance bundle refused (invalid_bundle): purpose 'consent-study' names consent/frailty-study.csv, "
        "not in the bundle"
    )


def test_an_unknown_file_or_a_symlink_in_the_bundle_is_refused(tiny: TinyHome, tmp_path: Path) -> None:
    (tiny.bundle / "notes.txt").write_text("x")
    assert _refused(tiny, tiny.bundle).reason == "invalid_bundle"
    (tiny.bundle / "notes.txt").unlink()
    users = tiny.bundle / "users.yaml"
    (tmp_path / "users_elsewhere.yaml").write_text(users.read_text())
    users.unlink()
    users.symlink_to(tmp_path / "users_elsewhere.yaml")
    assert _refused(tiny, tiny.bundle).reason == "invalid_bundle"


def test_an_approver_is_added_once_and_audited(tiny: TinyHome, tmp_path: Path) -> None:
    key = tmp_path / "second.key"
    public = new_approver_key(key)
    with pytest.raises(GovernanceError, match="approver 'ig-lead' is already installed"):
        add_approver_audited(tiny.home, tiny.keys, APPROVER, public)
    add_approver_audited(tiny.home, tiny.keys, "caldicott-guardian", public)
    assert _events(tiny)[-2:] == [
        ("approver_add", "denied", "approver_exists"),
        ("approver_add", "granted", None),
    ]
    sign_bundle(tiny.bundle, key, "caldicott-guardian", now=NOW)
    assert verify_bundle(tiny.bundle, tiny.home.governance_approvers).approver == "caldicott-guardian"


def test_dev_mode_signs_and_installs_the_example_governance_once(tmp_path: Path) -> None:
    from core.layout import Home
    from pseudonymisation import KeyProvider
    from pseudonymisation.release.setup import install_dev_governance

    landing = tmp_path / "landing"
    (landing / "reference").mkdir(parents=True)
    (landing / "reference" / "practices.csv").write_text(
        "Practice_Code,Practice_Name,PCN_Code,PCN_Name,Place,Practice_Postcode\n"
        "A81001,North Surgery,U12345,North PCN,Place,XX1 1XX\nB82005,South Surgery,U23456,South PCN,Place,XX2 2XX\n"
    )
    home = Home(tmp_path / "home").prepare()
    keys = KeyProvider.dev(home.keys)
    governance = install_dev_governance(home, landing, keys, home.keys)
    assert governance is not None and governance.approver == "dev-approver"
    assert [u.id for u in governance.users.users] == [
        "gp-a81001", "cc-a81001", "gp-b82005", "cc-b82005", "analyst-research",
    ]  # fmt: skip
    assert [o.ods for o in governance.organisations.organisations] == ["A81001", "B82005"]
    assert stat.S_IMODE(home.dev_approver_key.stat().st_mode) == 0o600
    assert stat.S_IMODE((home.practice_side / "A81001.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.practice_side.stat().st_mode) == 0o700
    assert install_dev_governance(home, landing, keys, home.keys) is None  # already installed: untouched
    events = [json.loads(line)["event"] for line in home.audit_log.read_text().splitlines()]
    assert events == ["approver_add", "register_install"]
