"""Issue 13 item 8 (part): a full disk reads "disk full while writing PATH" (home-relative), exit 1.

A real limit, not a patched write: the child process runs under RLIMIT_FSIZE with SIGXFSZ ignored,
so the kernel refuses the write that would pass the limit with EFBIG, as a full disk refuses it with
ENOSPC (`core.diskfull` treats both alike). The warehouse build (DuckDB) and a staged parquet write
(polars) are each run so.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.fixtures.staged_home import write_home

REPO = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024  # bytes any one file of the child may reach


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _run_limited(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
        preexec_fn=_limited, check=False,
    )  # fmt: skip


def test_warehouse_build_on_a_full_disk(tmp_path: Path) -> None:
    write_home(tmp_path)
    done = _run_limited("-m", "tests.fixtures.publish_driver", str(tmp_path))
    assert done.stderr == "disk full while writing warehouse/warehouse.driver.building\n"
    assert done.returncode == 1
    assert (
        sorted(p.name for p in (tmp_path / "warehouse").iterdir()) == []
    )  # nothing half-built, nothing published


def test_staged_parquet_write_on_a_full_disk(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np, polars as pl\n"
        "from core.errors import PhmError\n"
        "from core.layout import Home\n"
        "from load import write_parquet\n"
        "from pathlib import Path\n"
        "home = Home(Path(sys.argv[1])).prepare()\n"
        "frame = pl.DataFrame({'v': np.random.default_rng(0).random(200_000)})\n"
        "try:\n"
        "    write_parquet(frame, home.pseudo_staged('apc', '2025-01'))\n"
        "except PhmError as exc:\n"
        "    sys.stderr.write(f'{exc}\\n'); sys.exit(exc.exit_code)\n"
    )
    done = _run_limited("-c", code, str(tmp_path / "home"))
    assert done.stderr == "disk full while writing pseudonymised/staged/apc/2025-01.parquet\n"
    assert done.returncode == 1
    assert not (tmp_path / "home" / "pseudonymised" / "staged" / "apc" / "2025-01.parquet").exists()
