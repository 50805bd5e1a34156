"""Benchmark sizes and the cached data and installations the benchmarks run on.

A size the synthetic test range cannot hold (about 90 million people) runs at the largest one it can
(`fit_persons`); data is generated
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
from synthetic.nhs_numbers import CAPACITY, WIDE_CAPACITY

TEST_RANGE_CAPACITY = CAPACITY + WIDE_CAPACITY  # valid NHS numbers in 900 000 0000-999 999 9999


def fit_persons(requested: int, months: int) -> int:
    """`requested`, or the largest synthetic population the test range can hold if it cannot hold that.

    Every synthetic person (births included) needs a unique valid NHS number from 900 000 0000 to
    999 999 9999, and there are 90,909,091 of those; so any ICS (and a region of 10M) fits, and only
    a country-sized request runs smaller, saying so. The figure allows for the births of the period
    and their random spread.
    """
    births_per_person = GeneratorConfig().birth_rate * months / 12

    def fits(n: int) -> bool:
        births = n * births_per_person
        return n + births + 6 * births**0.5 <= TEST_RANGE_CAPACITY

    if fits(requested):
        return requested
    step = 1_000_000
    best = (TEST_RANGE_CAPACITY // step) * step
    while best > step and not fits(best):
        best -= step
    print(
        f"note: {requested:,} people cannot all have valid NHS numbers from the synthetic test range "
        f"900 000 0000-999 999 9999 ({TEST_RANGE_CAPACITY:,} exist); running the largest synthetic ICS that fits, {best:,} people over "
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
