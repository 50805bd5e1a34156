"""Exit status is a contract: every `phm` command through a real process, for success and each refusal.

0 success, 1 refused or failed, 2 usage error, 3 internal error (`core.errors`). A cron job or CI step
must be able to tell a tampered audit log from a good one by the exit status alone, so these tests run
`python -m phm.cli` in a child process, never an in-process runner (which once hid that every refusal
exited 0).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.cli import phm
from tests.fixtures.release_home import COHORT, REGISTER_YAML, TinyHome, copy_home, make_home

TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module: its purposes valid a year past today (the
    CLI uses the real clock, so a fixed expiry date would turn a granted release into a denial one day),
    the cohort built today. Tests change it, so each takes its own copy (`tiny`)."""
    t = make_home(
        tmp_path_factory.mktemp("installed"),
        REGISTER_YAML.replace("expires_on: 2027-01-01", f"expires_on: {TODAY + timedelta(days=365)}"),
    )
    with duckdb.connect(str(t.home.warehouse)) as con:
        con.execute("UPDATE cohort_member SET built_at = ?", [datetime.now(UTC).replace(tzinfo=None)])
    return t


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    """This test's own copy of the installation."""
    return copy_home(installed, tmp_path)


def _common(tiny: TinyHome) -> list[str]:
    return ["--home", str(tiny.home.root), "--data", str(tiny.landing.parent)]


def _release(tiny: TinyHome, purpose: str, practice: str = "A81001", user: str = "gp-a81001") -> list[str]:
    return ["release", "--purpose", purpose, "--cohort", COHORT, "--practice", practice,
            "--user", user, *_common(tiny)]  # fmt: skip


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr.rstrip("\n")


def _last_entry(tiny: TinyHome) -> dict[str, object]:
    return json.loads(tiny.home.audit_log.read_text().splitlines()[-1])


def _released_path(stdout: str) -> Path:
    return Path(stdout.split(" to ", 1)[1].split(" (", 1)[0])


# --- release -------------------------------------------------------------------------------------------


def test_granted_release_exits_0_and_a_denied_one_exits_1(tiny: TinyHome) -> None:
    granted = phm(*_release(tiny, "frailty-review"))
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.startswith("released 3 patient(s) to ")
    assert granted.stdout.rstrip().endswith("audit seq 3)")
    assert _released_path(granted.stdout).name.endswith(".csv.hpke")
    report = (tiny.home.reports / "transparency.md").read_text()  # the new head is published at once
    assert "Release log head: `3:" in report

    denied = phm(*_release(tiny, "old-pilot"))
    assert denied.returncode == 1
    assert _one_line(denied.stderr).startswith("phm: release denied (purpose_not_active): ")
    assert _one_line(denied.stderr).endswith("[audit seq 4]")
    assert denied.stdout == ""


@pytest.mark.parametrize(
    ("user", "practice", "reason"),
    [
        ("nobody", "A81001", "unknown_user"),
        ("gp-left", "A81001", "user_not_active"),
        ("gp-b82005", "A81001", "user_not_in_organisation"),  # asks for a practice they do not work at
        ("admin-a81001", "A81001", "requester_not_permitted"),
    ],
)
def test_users_who_may_not_receive_are_denied_with_1_and_audited(
    tiny: TinyHome, user: str, practice: str, reason: str
) -> None:
    result = phm(*_release(tiny, "frailty-review", practice, user))
    assert result.returncode == 1
    assert _one_line(result.stderr).startswith(f"phm: release denied ({reason}): ")
    entry = _last_entry(tiny)
    assert (entry["event"], entry["outcome"], entry["reason"]) == ("release", "denied", reason)
    assert entry["user"] == user  # an id-shaped value is recorded as given; free text never
    assert not tiny.home.outbox.exists()


def test_a_caller_supplied_register_is_a_usage_error(tiny: TinyHome, tmp_path: Path) -> None:
    own = tmp_path / "mine.yaml"
    own.write_text(REGISTER_YAML)
    result = phm(*_release(tiny, "frailty-review"), "--register", str(own))
    assert result.returncode == 2
    assert "No such option: --register" in result.stderr


def test_an_edited_installed_register_is_refused_with_1(tiny: TinyHome) -> None:
    installed = tiny.home.governance_bundles / tiny.governance.sha256 / "governance_register.yaml"
    installed.write_text(
        installed.read_text().replace("requesters: [R8000, R8003]", "requesters: [R8000, R8008]")
    )
    result = phm(*_release(tiny, "frailty-review", user="admin-a81001"))
    assert result.returncode == 1
    assert _one_line(result.stderr) == (
        "phm: release denied (register_refused): the installed governance bundle is missing or fails "
        "verification (changed_since_signing) [audit seq 3]"
    )


def test_a_symlinked_outbox_is_refused_with_1(tiny: TinyHome, tmp_path: Path) -> None:
    (tmp_path / "attacker").mkdir()
    tiny.home.outbox.symlink_to(tmp_path / "attacker")
    result = phm(*_release(tiny, "frailty-review"))
    assert result.returncode == 1
    assert _one_line(result.stderr).startswith("phm: release denied (outbox_unsafe): ")
    assert list((tmp_path / "attacker").iterdir()) == []


def test_a_release_on_a_chain_broken_mid_log_is_refused_with_1(tiny: TinyHome) -> None:
    assert phm(*_release(tiny, "old-pilot")).returncode == 1
    lines = tiny.home.audit_log.read_text().splitlines()
    lines[1] = lines[1].replace('"outcome":"granted"', '"outcome":"denied"')
    tiny.home.audit_log.write_text("\n".join(lines) + "\n")
    result = phm(*_release(tiny, "frailty-review"))
    assert result.returncode == 1
    assert _one_line(result.stderr).startswith(
        "phm: release refused, the audit log cannot be used: the audit log fails verification: line 2: "
    )
    assert not tiny.home.outbox.exists()


# --- open-list ------------------------------------------------------------------------------------------


def test_open_list_opens_with_the_practice_key_and_refuses_another_with_1(
    tiny: TinyHome, tmp_path: Path
) -> None:
    sealed = _released_path(phm(*_release(tiny, "frailty-review")).stdout)
    opened = phm("open-list", str(sealed), "--key", str(tiny.practice_keys["A81001"]))
    assert opened.returncode == 0, opened.stderr
    lines = opened.stdout.splitlines()
    assert lines[0] == "nhs_number,reason,risk_tier,risk_score"
    assert {line.split(",")[0] for line in lines[1:]} == tiny.numbers_at("A81001")

    out = tmp_path / "list.csv"
    written = phm("open-list", str(sealed), "--key", str(tiny.practice_keys["A81001"]), "--out", str(out))
    assert written.returncode == 0 and out.read_text() == opened.stdout
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    wrong = phm("open-list", str(sealed), "--key", str(tiny.practice_keys["B82005"]))
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert _one_line(wrong.stderr) == (
        f"phm: {sealed} does not open with this key (sealed to practice A81001; wrong key or altered file)"
    )


# --- governance -----------------------------------------------------------------------------------------


def test_governance_setup_steps_exit_0_and_an_unsigned_bundle_exits_1(tiny: TinyHome, tmp_path: Path) -> None:
    key = tmp_path / "caldicott.key"
    assert phm("governance", "keygen", "--out", str(key)).returncode == 0
    added = phm("governance", "approver", "add", "--id", "caldicott", "--public-key", f"{key}.pub",
                "--home", str(tiny.home.root))  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert _last_entry(tiny)["event"] == "approver_add"

    (tiny.bundle / "manifest.sig").unlink()
    unsigned = phm("governance", "install", str(tiny.bundle), "--home", str(tiny.home.root))
    assert unsigned.returncode == 1
    assert _one_line(unsigned.stderr).startswith("phm: governance bundle refused (unsigned): ")
    assert (_last_entry(tiny)["event"], _last_entry(tiny)["reason"]) == ("register_install", "unsigned")

    signed = phm("governance", "sign", str(tiny.bundle), "--key", str(key), "--approver", "caldicott")
    assert signed.returncode == 0, signed.stderr
    installed = phm("governance", "install", str(tiny.bundle), "--home", str(tiny.home.root))
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.startswith("installed bundle ")
    assert "signed by 'caldicott': 7 purposes, 7 users, 3 organisations" in installed.stdout
    assert _last_entry(tiny)["event"] == "register_install"
    assert _last_entry(tiny)["outcome"] == "granted"


def _verify(tiny: TinyHome, *anchors: str) -> subprocess.CompletedProcess[str]:
    return phm(
        "audit", "verify", "--home", str(tiny.home.root), *(a for h in anchors for a in ("--anchor", h))
    )


def test_audit_verify_exits_0_when_it_holds_and_1_when_edited(tiny: TinyHome) -> None:
    assert phm(*_release(tiny, "old-pilot")).returncode == 1
    ok = _verify(tiny)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit log OK: 3 entries, head 3:")

    lines = tiny.home.audit_log.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["practice"] = "B82005"  # an edit, without the key to re-MAC it
    lines[2] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    tiny.home.audit_log.write_text("\n".join(lines) + "\n")
    failed = _verify(tiny)
    assert failed.returncode == 1
    assert _one_line(failed.stderr) == (
        "phm: audit log FAILED at entry 3: line 3: entry seq 3 does not match its MAC "
        "(edited, or written without the audit key)"
    )


def test_audit_verify_catches_a_deleted_last_entry_and_an_edited_head_file(tiny: TinyHome) -> None:
    assert phm(*_release(tiny, "frailty-review")).returncode == 0
    lines = tiny.home.audit_log.read_text().splitlines(keepends=True)
    tiny.home.audit_log.write_text("".join(lines[:-1]))  # hide the grant
    deleted = _verify(tiny)
    assert deleted.returncode == 1
    assert _one_line(deleted.stderr) == (
        "phm: audit log FAILED at entry 3: line 3: the log ends at seq 2 but a head was published for seq 3 "
        "(entries were removed from the end)"
    )
    tiny.home.audit_log.write_text("".join(lines))
    heads = tiny.home.audit_head.read_text().splitlines(keepends=True)
    tiny.home.audit_head.write_text("".join(heads[:-1]) + heads[-1].replace('"seq":3', '"seq":2'))
    edited = _verify(tiny)
    assert edited.returncode == 1
    assert _one_line(edited.stderr) == (
        "phm: audit log FAILED at entry 4: head file line 3 is not a valid head (edited, reordered or cut short)"
    )


def test_audit_verify_against_a_published_anchor(tiny: TinyHome) -> None:
    assert phm(*_release(tiny, "frailty-review")).returncode == 0
    head = _verify(tiny).stdout.split("head ", 1)[1].split(" ", 1)[0]
    assert _verify(tiny, head).returncode == 0
    # Cut the log and its head file back consistently: only the anchor kept elsewhere sees it.
    for path in (tiny.home.audit_log, tiny.home.audit_head):
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    assert _verify(tiny).returncode == 0
    cut = _verify(tiny, head)
    assert cut.returncode == 1 and "a head was published for seq 3" in cut.stderr


def test_audit_verify_without_a_log_exits_1_and_a_bad_anchor_exits_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "identifiable" / "keys").mkdir(parents=True)
    (home / "identifiable" / "keys" / "audit_key_v1.key").write_text("A" * 43 + "=\n")
    missing = phm("audit", "verify", "--home", str(home))
    assert missing.returncode == 1
    assert _one_line(missing.stderr).startswith("phm: audit log FAILED: ")

    bad_anchor = phm("audit", "verify", "--home", str(home), "--anchor", "not-a-head")
    assert bad_anchor.returncode == 2
    assert _one_line(bad_anchor.stderr) == "phm: an anchor is written '<seq>:<64 hex digits>'"


def test_keys_rotate_exits_0_audited_and_refuses_environment_keys_with_1(tiny: TinyHome) -> None:
    rotated = phm("keys", "rotate", "--home", str(tiny.home.root))
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("rotated keys v1 -> v2: 6 tokens")
    entry = _last_entry(tiny)
    assert (entry["event"], entry["outcome"], entry["register_sha256"]) == (
        "key_rotation", "granted", tiny.governance.sha256,
    )  # fmt: skip
    assert phm(*_release(tiny, "frailty-review")).returncode == 0  # the audit key survived the rotation

    refused = phm("keys", "rotate", "--home", str(tiny.home.root), env={"PHM_TOKEN_KEY": "x" * 64})
    assert refused.returncode == 1
    assert _one_line(refused.stderr) == (
        "phm: keys from the environment are rotated in the secret store (docs/runbook_keys.md)"
    )


def _extract(tiny: TinyHome, *args: str) -> list[str]:
    return ["extract", "--purpose", "research-extract", "--domain", "research-a", *args, *_common(tiny)]


def test_extract_exits_0_audited_and_refusals_exit_1_audited(tiny: TinyHome, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    with duckdb.connect(str(tiny.home.warehouse)) as con:  # one risk tier: five people reach k = 5
        con.execute("UPDATE risk_score SET risk_tier = 'high'")
    done = phm(*_extract(tiny, "--user", "analyst-a", "--cohort", COHORT, "--out", str(out)))
    assert done.returncode == 0, done.stderr
    assert out.exists() and (tmp_path / "x.aggregates.csv").exists()
    entry = _last_entry(tiny)
    assert (entry["event"], entry["outcome"], entry["user"], entry["count_released"]) == (
        "extract", "granted", "analyst-a", 5,
    )  # fmt: skip

    refused = phm(*_extract(tiny, "--user", "analyst-a", "--cohort", "no_such_cohort"))
    assert refused.returncode == 1
    assert _one_line(refused.stderr) == "phm: extract refused: this purpose does not permit this cohort (cohort_not_permitted)"  # fmt: skip
    assert (_last_entry(tiny)["event"], _last_entry(tiny)["reason"]) == ("extract", "cohort_not_permitted")

    unknown = phm(*_extract(tiny, "--user", "gp-a81001", "--cohort", COHORT))
    assert unknown.returncode == 1
    assert _last_entry(tiny)["reason"] == "requester_not_permitted"


def test_transparency_exits_0_and_refuses_without_an_installed_bundle_with_1(tiny: TinyHome) -> None:
    done = phm("transparency", "--home", str(tiny.home.root))
    assert done.returncode == 0, done.stderr
    page = (tiny.home.reports / "transparency.html").read_text()
    assert "Release log head: <code>2:" in page

    tiny.home.governance_installed.unlink()
    refused = phm("transparency", "--home", str(tiny.home.root))
    assert refused.returncode == 1
    assert _one_line(refused.stderr) == (
        "phm: governance bundle refused (no_bundle_installed): no signed governance bundle is installed "
        "(phm governance install)"
    )


def test_a_failed_run_exits_1(tmp_path: Path) -> None:
    (tmp_path / "data" / "landing").mkdir(parents=True)  # a landing folder with nothing delivered
    result = phm("run", "--data", str(tmp_path / "data"), "--home", str(tmp_path / "home"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
