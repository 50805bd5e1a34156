"""Issue 13 item 2: a load publishes all of it or none of it.

Real processes (`tests.fixtures.publish_driver`: the load from the warehouse step on, with the
functions the Dagster assets call) over a tiny pseudonymised home. A process told to pause at a named
point (`PHM_PAUSE_AT`, `core.faults`) says so on stderr and blocks; the test reads that line, so it
knows exactly where the process is, and kills it with SIGKILL. No sleeps. The runs that are not killed
and not read concurrently (the clean load, each re-run after a kill) call the same driver in this
process: a process start-up (seconds of imports) proves nothing there.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.faults import POINTS
from linkage.warehouse import TABLES, open_read_only
from scripts.warehouse_fingerprint import fingerprint
from tests.fixtures.publish_driver import run
from tests.fixtures.staged_home import write_home

REPO = Path(__file__).resolve().parents[2]
COHORT_TABLES = {"risk_score", "cohort_member"}


def _driver(root: Path, *args: str, pause_at: str = "") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PHM_PAUSE_AT"}
    if pause_at:
        env["PHM_PAUSE_AT"] = pause_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.publish_driver", str(root), *args],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _run(root: Path, *args: str) -> None:
    proc = _driver(root, *args)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


def _run_here(root: Path, *, cohort_rows: int = 3, build_id: str = "driver") -> None:
    """The driver's load, with its defaults, in this process (to completion)."""
    run(root, cohort_rows=cohort_rows, build_id=build_id)


def _paused(root: Path, point: str, *args: str) -> subprocess.Popen[str]:
    """A driver process stopped at `point` (read from its stderr: it has got there)."""
    proc = _driver(root, *args, pause_at=point)
    assert proc.stderr is not None
    assert proc.stderr.readline() == f"PAUSED {point}\n"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    for stream in (proc.stdin, proc.stderr):
        if stream is not None:
            stream.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _builds(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "warehouse").iterdir() if p.name.endswith(".building"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_home(tmp_path)
    return tmp_path


def test_kill_at_five_points_then_rerun_converges_to_the_clean_warehouse(root: Path) -> None:
    warehouse = root / "warehouse" / "warehouse.duckdb"
    _run_here(root)
    clean = fingerprint(warehouse)
    assert set(clean) == set(TABLES) | COHORT_TABLES
    assert len(POINTS) == 5
    for point in sorted(POINTS):
        before = _sha(warehouse)
        _kill(_paused(root, point, "--cohort-rows", "7"))
        if point == "after_replace":  # killed just after the swap: the new load is published, whole
            assert fingerprint(warehouse)["risk_score"][0] == 7
        else:  # killed before the swap: the published file is exactly as it was
            assert _sha(warehouse) == before, point
            assert _builds(root), f"{point}: the killed run left no build file to clean up"
        assert set(fingerprint(warehouse)) == set(clean), point  # always a complete table set
        _run_here(root)
        assert _builds(root) == [], point
        assert not list((root / "warehouse").glob("*.building.lock")), point
        assert fingerprint(warehouse) == clean, point


def test_a_live_runs_build_is_never_removed(root: Path) -> None:
    """A second load cleans up killed runs' builds only: the build a paused (live) run holds stays."""
    live = _paused(root, "warehouse_step_done", "--build-id", "live")
    try:
        _run_here(root, build_id="other")
        assert _builds(root) == ["warehouse.live.building"]
    finally:
        _kill(live)
    _run_here(root, build_id="third")
    assert _builds(root) == []


def test_a_reader_sees_the_old_load_or_the_new_one_never_a_mix(root: Path) -> None:
    """A reader loop (this process) opening the published warehouse while another process loads twice."""
    warehouse = root / "warehouse" / "warehouse.duckdb"
    _run_here(root, cohort_rows=3)

    def version() -> tuple[frozenset[str], int, int]:
        con = open_read_only(warehouse)
        try:
            tables = frozenset(t for (t,) in con.sql("SELECT table_name FROM duckdb_tables()").fetchall())
            (people,) = con.sql("SELECT count(*) FROM person").fetchall()[0]
            (scores,) = con.sql("SELECT count(*) FROM risk_score").fetchall()[0]
        finally:
            con.close()
        return tables, int(people), int(scores)

    old = version()
    seen: list[tuple[frozenset[str], int, int]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(version())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        _run(root, "--cohort-rows", "5")
    finally:
        done.set()
        thread.join()
    new = version()
    assert new == (old[0], old[1], 5)
    assert seen, "the reader never read"
    assert set(seen) <= {old, new}
