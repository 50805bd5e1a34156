"""The CLI shows a ValueError's message only when our code raised it (ours carry names and counts);
a library's may echo an input value, so it is reported by type."""

from __future__ import annotations

import fractions
from collections.abc import Callable

import pytest
import typer

import load as steps
from phm import cli


def _run_failing(monkeypatch: pytest.MonkeyPatch, fail: Callable[[], object]) -> int:
    class Command:
        def main(self, *_args: object, **_kwargs: object) -> None:
            fail()

    monkeypatch.setattr(typer.main, "get_command", lambda _app: Command())
    return cli.main([])


def test_our_value_error_is_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHM_WORKERS", "two")
    assert _run_failing(monkeypatch, steps.workers) == 2
    assert capsys.readouterr().err == "phm: error: PHM_WORKERS must be a whole number, got 'two'\n"


def test_a_library_value_error_is_shown_by_type_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The standard library quotes its input in the message: "Invalid literal for Fraction: '...'".
    assert _run_failing(monkeypatch, lambda: fractions.Fraction("9990000018 Smith")) == 3
    assert capsys.readouterr().err == (
        "phm: internal error (ValueError); rerun with PHM_DEBUG=1 to see the traceback\n"
    )
