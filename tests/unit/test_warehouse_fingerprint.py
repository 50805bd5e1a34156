"""scripts/warehouse_fingerprint.py: the before/after proof of a behaviour-preserving change.

Run as a developer runs it (a real process): equal warehouses exit 0 whatever their row order and run
stamps; one changed value exits 1 and names the table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "warehouse_fingerprint.py"


def _warehouse(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE person (person_token VARCHAR, imd_decile INTEGER, load_id VARCHAR)")
        con.executemany("INSERT INTO person VALUES (?, ?, ?)", rows)
        con.execute("CREATE TABLE ref_lsoa (lsoa21 VARCHAR)")
        con.execute("INSERT INTO ref_lsoa VALUES ('E01000001')")
    return path


def _compare(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, check=False
    )


def test_same_rows_in_another_order_and_other_run_stamps_are_the_same(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [("t1", 3, "run-a"), ("t2", 9, "run-a")])
    b = _warehouse(tmp_path / "b.duckdb", [("t2", 9, "run-b"), ("t1", 3, "run-b")])
    result = _compare(a, b)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "2 tables, 0 different"


def test_one_changed_value_is_different(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [("t1", 3, "x"), ("t2", 9, "x")])
    b = _warehouse(tmp_path / "b.duckdb", [("t1", 3, "x"), ("t2", 8, "x")])
    result = _compare(a, b)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "2 tables, 1 different"
    assert [line.split()[0] for line in lines if line.endswith("DIFFERENT")] == ["person"]
