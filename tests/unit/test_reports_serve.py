"""`phm reports serve` in a real process: serves HOME/reports/ on 127.0.0.1, nothing outside it, no listings."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _serve(home: Path, preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[str]:
    """`phm reports serve --home HOME` on any free port, in a real process whose stdout the test reads."""
    args = [sys.executable, "-m", "phm.cli", "reports", "serve", "--home", str(home), "--port", "0"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, preexec_fn=preexec_fn)


def test_serves_reports_only(tmp_path: Path) -> None:
    reports = tmp_path / "home" / "reports"
    (reports / "site").mkdir(parents=True)
    (reports / "site" / "index.html").write_text("<p>overview</p>")
    (reports / "empty").mkdir()
    (tmp_path / "home" / "secret.txt").write_text("not a report")
    (reports / "link.txt").symlink_to(tmp_path / "home" / "secret.txt")
    child = _serve(tmp_path / "home")
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # printed once the socket is bound
        assert line.startswith("serving ") and line.rstrip().endswith("/site/index.html (Ctrl-C to stop)")
        url = line.split(" at ")[1].split(" ")[0]
        base = url.removesuffix("/site/index.html")
        assert base.startswith("http://127.0.0.1:")
        assert _status(url) == 200
        assert _status(f"{base}/site/") == 200  # a folder's index.html
        assert _status(f"{base}/empty/") == 404  # never a listing
        assert _status(f"{base}/link.txt") == 404  # a symlink out of reports/
        assert _status(f"{base}/../secret.txt") == 404
    finally:
        child.terminate()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--port", "70000"], 2, "--port 70000 is not a port number (0-65535)"),
    ([], 1, "does not exist: run `phm run` first"),
])  # fmt: skip
def test_bad_serve_options(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    from tests.fixtures.cli import phm

    result = phm("reports", "serve", "--home", str(tmp_path / "nohome"), *args)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr


def _ignore_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def test_sigterm_stops_the_server_even_when_inherited_as_ignored(tmp_path: Path) -> None:
    # A parent started with SIGINT ignored (`nohup ... &`) that ran Dagster in-process passes SIGTERM on
    # ignored; the server must still stop on SIGTERM, as a supervisor or `kill` expects.
    (tmp_path / "home" / "reports").mkdir(parents=True)
    child = _serve(tmp_path / "home", preexec_fn=_ignore_sigterm)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("serving ")  # the handler is set before this line
        child.terminate()
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
