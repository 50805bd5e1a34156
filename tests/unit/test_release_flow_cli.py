"""The release commands through typer: exit codes, one-line messages, --home on every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from phm.release_cli import EXAMPLE_REGISTER, register_commands, resolve_register_path
from pseudonymisation.release.release import audit_log_path
from tests.unit.release_flow_fixtures import REGISTER_YAML, TinyHome, make_home


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyHome:
    monkeypatch.delenv("PHM_TOKEN_KEY", raising=False)
    monkeypatch.delenv("PHM_VAULT_KEY", raising=False)
    t = make_home(tmp_path)
    (t.home.root / "governance_register.yaml").write_text(REGISTER_YAML)
    return t


def _run(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    register_commands(app)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _common(tiny: TinyHome) -> list[str]:
    return ["--home", str(tiny.home.root), "--data", str(tiny.landing.parent)]


def test_release_denied_then_verify_then_tamper_detected(tiny: TinyHome) -> None:
    # The cohort was built on 2026-11-01: "now" in the CLI is the real clock, so whichever the outcome
    # (granted if run within 35 days, else stale), it is audited. Force a denial to be deterministic:
    code, _, err = _run("release", "--purpose", "old-pilot", "--cohort", "frail_65_high_risk",
                        "--practice", "A81001", "--requester", "Dr A, GP", *_common(tiny))  # fmt: skip
    assert code == 1 and "release denied (purpose_not_active)" in err
    code, out, _ = _run("audit", "verify", "--home", str(tiny.home.root))
    assert code == 0 and "1 entries" in out

    path = audit_log_path(tiny.home)
    entry = json.loads(path.read_text())
    entry["practice"] = "B82005"  # an edit
    path.write_text(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
    code, _, err = _run("audit", "verify", "--home", str(tiny.home.root))
    assert code == 1
    assert err.count("\n") == 1 and "entry 1" in err and "edited" in err


def test_keys_rotate_command(tiny: TinyHome) -> None:
    code, out, err = _run("keys", "rotate", "--home", str(tiny.home.root))
    assert code == 0, err
    assert "v1 -> v2" in out and "6 tokens" in out


def test_extract_and_transparency_commands(tiny: TinyHome, tmp_path: Path) -> None:
    code, out, err = _run("extract", "--domain", "research-a", "--cohort", "frail_65_high_risk",
                          "--out", str(tmp_path / "x.csv"), *_common(tiny))  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "x.csv").exists() and (tmp_path / "x.aggregates.csv").exists()
    code, out, err = _run("transparency", *_common(tiny))
    assert code == 0, err
    assert (tiny.home.reports / "transparency.html").exists()


def test_register_resolution_order(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    assert resolve_register_path(home, data) == EXAMPLE_REGISTER
    landing_reg = data / "landing" / "registers" / "governance_register.yaml"
    landing_reg.parent.mkdir(parents=True)
    landing_reg.write_text(REGISTER_YAML)
    assert resolve_register_path(home, data) == landing_reg
    home.mkdir()
    (home / "governance_register.yaml").write_text(REGISTER_YAML)
    assert resolve_register_path(home, data) == home / "governance_register.yaml"
    assert resolve_register_path(home, data, tmp_path / "x.yaml") == tmp_path / "x.yaml"


def test_malformed_register_is_one_line(tiny: TinyHome) -> None:
    (tiny.home.root / "governance_register.yaml").write_text("purposes:\n  - id: Bad Id\n")
    code, _, err = _run("release", "--purpose", "x", "--cohort", "c", "--practice", "A81001",
                        "--requester", "a, GP", *_common(tiny))  # fmt: skip
    assert code == 1 and err.startswith("phm: governance register refused:") and err.count("\n") == 1
