"""Benchmark sizes and the cached data and installations the benchmarks run on.

A size the 999 test range cannot hold runs at the largest one it can (`fit_persons`); data is generated
once per size and seed in a child process (outside the timing and this process's peak memory) and kept
under `.phm/bench`, as is the installation `bench pipeline` builds and `bench model` reuses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import BenchError
from core.layout import DEFAULT_HOME
from synthetic.config import GeneratorConfig
from synthetic.nhs_numbers import CAPACITY


def fit_persons(requested: int, months: int) -> int:
    """`requested`, or the largest synthetic ICS the 999 test range can hold if it cannot hold that.

    Every synthetic person (births included) needs a unique valid NHS number from 999 000 0000 to
    999 999 9999, and there are only 909,091 of those; so `--persons 1000000` runs at 880,000 (for
    24 months) and says so. The figure allows for the births of the period and their random spread.
    """
    births_per_person = GeneratorConfig().birth_rate * months / 12

    def fits(n: int) -> bool:
        births = n * births_per_person
        return n + births + 6 * births**0.5 <= CAPACITY

    if fits(requested):
        return requested
    step = 10_000
    best = (CAPACITY // step) * step
    while best > step and not fits(best):
        best -= step
    print(
        f"note: {requested:,} people cannot all have valid NHS numbers from the 999 test range "
        f"({CAPACITY:,} exist); running the largest synthetic ICS that fits, {best:,} people over "
        f"{months} months. Rows per second is the figure that carries over to larger populations.",
        file=sys.stderr,
    )
    return best


def bench_data(persons: int, seed: int, months: int) -> Path:
    """Benchmark data, cached per size and seed under .phm/bench (generated in a child process)."""
    data = DEFAULT_HOME / "bench" / f"data-p{persons}-s{seed}-m{months}"
    if not (data / "landing").is_dir():
        command = [sys.executable, "-m", "phm.cli", "generate", "--persons", str(persons), "--seed", str(seed),
                   "--months", str(months), "--out", str(data)]  # fmt: skip
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            raise BenchError(
                f"generating the benchmark data failed (exit {done.returncode}; its message is above)"
            )
    return data


def bench_home(persons: int, seed: int, months: int) -> Path:
    """Where `bench pipeline` leaves its installation, reused by `bench model`."""
    return DEFAULT_HOME / "bench" / f"home-p{persons}-s{seed}-m{months}"
