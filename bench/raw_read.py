"""The cost of reading the input once: every landing file read by DuckDB, all columns, into memory.

This is the yardstick `phm bench pipeline` divides by (`ratio_to_raw_read`): no pipeline can cost less
than reading its input, so the ratio says how much of the pipeline is work beyond that. It runs in a
child process (`python -m bench.raw_read LANDING`, printing seconds) so the tables it holds do not
count towards the pipeline's peak memory, and each file is dropped once read.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.report import BenchError


def landing_csvs(landing: Path) -> list[Path]:
    """Every CSV under landing (extracts, registers, reference): what the pipeline reads."""
    return sorted(landing.rglob("*.csv"))


def read_all(landing: Path) -> float:
    """Seconds to read every landing CSV into an in-memory DuckDB table, every column as text."""
    import duckdb

    start = time.perf_counter()
    with duckdb.connect() as con:
        for path in landing_csvs(landing):
            # all_varchar: reading, not parsing, is the yardstick; malformed lines (injected defects)
            # are skipped rather than stopping the read.
            con.execute(
                "CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv(?, all_varchar = true, ignore_errors = true)",
                [str(path)],
            )
            con.execute("DROP TABLE raw")
    return time.perf_counter() - start


def raw_read_seconds(landing: Path) -> float:
    """`read_all` in a child process (so its memory is not the caller's), in seconds."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.raw_read", str(landing)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:  # its stderr is not repeated: a CSV error message can quote a raw row
        raise BenchError(
            f"reading the landing files in {landing} with DuckDB failed (exit {done.returncode})"
        )
    return float(done.stdout.strip())


if __name__ == "__main__":
    sys.stdout.write(f"{read_all(Path(sys.argv[1])):.3f}\n")
