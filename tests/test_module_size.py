"""No product module over 400 lines (issue #12: modules a newcomer can hold in their head).

Every `.py` file of the product packages (the ones `tests/test_import_rules.py` walks) and `scripts/`
counts; tests do not. The rule is checked on a small inline tree first, so a check that finds nothing
on the product has been seen to find something.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_import_rules import PACKAGES, ROOT

MAX_LINES = 400


def oversized(root: Path, packages: tuple[str, ...], limit: int = MAX_LINES) -> list[str]:
    """`path: N lines` for every module under `root/<package>` longer than `limit` lines."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            lines = len(path.read_text("utf-8").splitlines())
            if lines > limit:
                found.append(f"{path.relative_to(root).as_posix()}: {lines} lines")
    return found


def test_the_rule_finds_a_module_one_line_too_long(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "ok.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "pkg" / "sub" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert oversized(tmp_path, ("pkg",)) == ["pkg/sub/long.py: 401 lines"]


def test_no_product_module_is_over_400_lines() -> None:
    assert "core" in PACKAGES and "pipelines" in PACKAGES  # the walk covers the product
    assert oversized(ROOT, (*PACKAGES, "scripts")) == []
