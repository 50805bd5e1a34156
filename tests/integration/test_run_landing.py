"""`phm run` as a cron job runs it: every unloaded landing entry listed with its reason, exit status 1;
a governance register edited since signing fails the run (exit 1) instead of skipping the report."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from core.layout import Home
from pseudonymisation import KeyProvider
from pseudonymisation.release.setup import install_dev_governance
from tests.fixtures.cli import phm

# `slow`: three real `phm run` processes; tests/conftest.py hands slow modules to workers first.
pytestmark = pytest.mark.slow


def test_unloaded_entries_are_listed_and_the_run_exits_1(tmp_path: Path) -> None:
    data, home = tmp_path / "ics", tmp_path / "home"
    made = phm("generate", "--persons", "300", "--months", "2", "--seed", "3", "--out", str(data))
    assert made.returncode == 0, made.stderr
    landing = data / "landing"
    apc = landing / "apc" / "apc_2026-09.csv"
    (landing / "apc" / "apc_202609.csv").write_bytes(apc.read_bytes())  # misnamed month
    (landing / "apc" / "apc_2026-08.parquet").write_bytes(b"PAR1")  # unsupported format
    os.mkfifo(landing / "mhsds" / "mhsds_2026-08.csv")  # a FIFO must not hang the run
    os.symlink(apc, landing / "apc" / "apc_2026-08.csv")  # a symlink is refused, not followed
    (landing / "ecds" / "ecds_2026-09.csv").rename(landing / "ecds" / "ecds_2026-09_v2.csv")
    result = phm("run", "--data", str(data), "--home", str(home), "--months", "2026-10", timeout=900)
    assert result.returncode == 1, result.stderr
    # The listing is the last thing the run prints: its header, then one indented line per entry (a
    # warning logged earlier by a stage, e.g. an untrainable risk model on 300 people, may precede it).
    lines = result.stderr.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("phm: ") and "were not loaded" in line)
    entries = lines[header + 1 :]
    assert lines[header] == (
        f"phm: {len(entries)} landing entries were not loaded (acknowledge with --skip PATH or --skip-unloaded):"
    )
    assert all(line.startswith("  ") for line in entries)
    listed = {line.strip() for line in entries}
    assert {
        "apc/apc_2026-08.csv: not a regular file (symbolic link)",
        "apc/apc_2026-08.parquet: unsupported format",
        "apc/apc_202609.csv: unexpected name",
        "mhsds/mhsds_2026-08.csv: not a regular file (FIFO)",
        "apc/apc_2026-09.csv: outside the months requested",
        "ecds/ecds_2026-09_v2.csv: outside the months requested",
    } <= listed
    assert "Loaded 1 months (2026-10)." in result.stdout
    con = duckdb.connect(str(home / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        log = dict(
            con.execute("SELECT landing_entry, reason FROM load_log WHERE status = 'not_loaded'").fetchall()
        )
    finally:
        con.close()
    assert log["mhsds/mhsds_2026-08.csv"] == "not a regular file (FIFO)"
    assert log["apc/apc_202609.csv"] == "unexpected name"
    assert len(log) == len(listed)

    # A governance register edited after it was signed fails the run (exit 1) and says the transparency
    # report was not written; it is never skipped silently.
    h = Home(home).prepare()
    governance = install_dev_governance(h, landing, KeyProvider.dev(h.keys), h.keys)
    assert governance is not None
    register = h.governance_bundles / governance.sha256 / "governance_register.yaml"
    signed = register.read_bytes()
    register.write_bytes(signed.replace(b"purposes:", b"purposes:  ", 1))
    args = ("run", "--data", str(data), "--home", str(home), "--months", "2026-10", "--skip-unloaded")
    refused = phm(*args, timeout=900)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "phm: governance register refused (changed_since_signing); the transparency report was not "
        "written. This run's warehouse was published; fix or re-sign the register (phm governance ...)"
    )

    register.write_bytes(signed)
    skipped = phm(*args, timeout=900)
    assert skipped.returncode == 0, skipped.stderr
    assert "Landing: " in skipped.stdout and "0 not loaded." in skipped.stdout
