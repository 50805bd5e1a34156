"""The CLI: bad arguments end in one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from tests.fixtures.cli import phm


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--persons", "abc"], "phm: error: Invalid value for '--persons'"),
        (["generate", "--persons", "0"], "phm: error: Invalid value for '--persons'"),
        (["no-such-command"], "phm: error: No such command 'no-such-command'."),
        (["run", "--bogus"], "phm: error: No such option: --bogus"),
        (["bench", "generate", "--persons", "-5"], "phm: error: Invalid value for '--persons'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = phm(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in result.stderr


def test_run_on_missing_custom_data_folder_is_one_line(tmp_path: object) -> None:
    result = phm("run", "--data", f"{tmp_path}/nothing", "--home", f"{tmp_path}/home")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"phm: no landing folder at {tmp_path}/nothing/landing (generate one with `phm generate --out {tmp_path}/nothing`)"
    )


def test_help_lists_subcommands() -> None:
    result = phm("--help")
    assert result.returncode == 0
    for command in ("generate", "run", "ui", "bench"):
        assert command in result.stdout
