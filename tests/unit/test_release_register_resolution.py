"""Which governance register a release reads, first found."""

from __future__ import annotations

from pathlib import Path

from phm.release_cli import EXAMPLE_REGISTER, resolve_register_path
from tests.fixtures.release_home import REGISTER_YAML


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
