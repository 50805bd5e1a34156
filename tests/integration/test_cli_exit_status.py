"""Exit status is a contract: every `phm` command through a real process, for success and each refusal.

0 success, 1 refused or failed, 2 usage error, 3 internal error (`core.errors`). A cron job or CI step
must be able to tell a tampered audit log from a good one by the exit status alone, so these tests run
`python -m phm.cli` in a child process, never an in-process runner (which once hid that every refusal
exited 0).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pseudonymisation.release.release import audit_log_path
from tests.fixtures.cli import phm
from tests.fixtures.release_home import COHORT, REGISTER_YAML, TinyHome, make_home

TODAY = datetime.now(UTC).date()


def _register_valid_today() -> str:
    """The fixture register with the frailty purpose's expiry moved a year past today (the CLI uses the
    real clock, so a fixed expiry date would turn a granted release into a denial one day)."""
    return REGISTER_YAML.replace(
        "expires_on: 2027-01-01\n    cohorts: [frail_65_high_risk]\n    recipients:\n"
        "      practices_of_registered_patients: true\n    requesters: [GP, Practice Pharmacist]",
        f"expires_on: {TODAY + timedelta(days=365)}\n    cohorts: [frail_65_high_risk]\n    recipients:\n"
        "      practices_of_registered_patients: true\n    requesters: [GP, Practice Pharmacist]",
    )


@pytest.fixture
def tiny(tmp_path: Path) -> TinyHome:
    t = make_home(tmp_path)
    (t.home.root / "governance_register.yaml").write_text(_register_valid_today())
    with duckdb.connect(str(t.home.warehouse)) as con:  # the cohort was built today
        con.execute("UPDATE cohort_member SET built_at = ?", [datetime.now(UTC).replace(tzinfo=None)])
    return t


def _common(tiny: TinyHome) -> list[str]:
    return ["--home", str(tiny.home.root), "--data", str(tiny.landing.parent)]


def _release(tiny: TinyHome, purpose: str, practice: str = "A81001") -> list[str]:
    return ["release", "--purpose", purpose, "--cohort", COHORT, "--practice", practice,
            "--requester", "Dr A, GP", *_common(tiny)]  # fmt: skip


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr.rstrip("\n")


def test_granted_release_exits_0_and_a_denied_one_exits_1(tiny: TinyHome) -> None:
    granted = phm(*_release(tiny, "frailty-review"))
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.startswith("released 3 patient(s) to ")
    assert granted.stdout.rstrip().endswith("audit seq 1)")

    denied = phm(*_release(tiny, "old-pilot"))
    assert denied.returncode == 1
    assert _one_line(denied.stderr).startswith("phm: release denied (purpose_not_active): ")
    assert _one_line(denied.stderr).endswith("[audit seq 2]")
    assert denied.stdout == ""


def test_release_with_a_malformed_register_exits_1(tiny: TinyHome) -> None:
    (tiny.home.root / "governance_register.yaml").write_text("purposes:\n  - id: Bad Id\n")
    result = phm(*_release(tiny, "frailty-review"))
    assert result.returncode == 1
    assert _one_line(result.stderr).startswith("phm: governance register refused: ")


def test_audit_verify_exits_0_when_it_holds_and_1_when_edited(tiny: TinyHome) -> None:
    assert phm(*_release(tiny, "old-pilot")).returncode == 1
    ok = phm("audit", "verify", "--home", str(tiny.home.root))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit log OK: 1 entries")

    path = audit_log_path(tiny.home)
    entry = json.loads(path.read_text())
    entry["practice"] = "B82005"  # an edit, without re-hashing
    path.write_text(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
    failed = phm("audit", "verify", "--home", str(tiny.home.root))
    assert failed.returncode == 1
    line = _one_line(failed.stderr)
    assert line.startswith("phm: audit log FAILED at entry 1: ") and "edited" in line


def test_audit_verify_without_a_log_exits_1_and_a_bad_anchor_exits_2(tmp_path: Path) -> None:
    missing = phm("audit", "verify", "--home", str(tmp_path / "home"))
    assert missing.returncode == 1
    assert _one_line(missing.stderr).startswith("phm: audit log FAILED: audit log not found: ")

    bad_anchor = phm("audit", "verify", "--home", str(tmp_path / "home"), "--anchor", "not-a-head")
    assert bad_anchor.returncode == 2
    assert _one_line(bad_anchor.stderr).startswith("phm: ")


def test_keys_rotate_exits_0_and_refuses_environment_keys_with_1(tiny: TinyHome) -> None:
    rotated = phm("keys", "rotate", "--home", str(tiny.home.root))
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("rotated keys v1 -> v2: 6 tokens")

    refused = phm("keys", "rotate", "--home", str(tiny.home.root), env={"PHM_TOKEN_KEY": "x" * 64})
    assert refused.returncode == 1
    assert _one_line(refused.stderr) == (
        "phm: keys from the environment are rotated in the secret store (docs/runbook_keys.md)"
    )


def test_extract_exits_0_and_refuses_an_unknown_cohort_with_1(tiny: TinyHome, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    done = phm("extract", "--domain", "research-a", "--cohort", COHORT, "--out", str(out), *_common(tiny))
    assert done.returncode == 0, done.stderr
    assert out.exists() and (tmp_path / "x.aggregates.csv").exists()

    refused = phm("extract", "--domain", "research-a", "--cohort", "no_such_cohort", *_common(tiny))
    assert refused.returncode == 1
    assert _one_line(refused.stderr) == (
        "phm: extract refused: cohort 'no_such_cohort' has no members in the warehouse"
    )


def test_transparency_exits_0_and_refuses_a_malformed_register_with_1(tiny: TinyHome) -> None:
    done = phm("transparency", *_common(tiny))
    assert done.returncode == 0, done.stderr
    assert (tiny.home.reports / "transparency.html").exists()

    (tiny.home.root / "governance_register.yaml").write_text("purposes: [")
    refused = phm("transparency", *_common(tiny))
    assert refused.returncode == 1
    assert _one_line(refused.stderr).startswith("phm: governance register refused: ")


def test_a_failed_run_exits_1(tmp_path: Path) -> None:
    (tmp_path / "data" / "landing").mkdir(parents=True)  # a landing folder with nothing delivered
    result = phm("run", "--data", str(tmp_path / "data"), "--home", str(tmp_path / "home"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
