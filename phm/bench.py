"""Benchmarks: figures per stage, ending with one JSON line so runs can be compared.

`bench generate` times the synthetic generator in this process. `bench pipeline` first makes sure the
data exists (generated in a child process, outside the timing and outside this process's peak
memory), then times each stage of landing -> warehouse by calling the same `pipelines.steps`
functions the Dagster assets call.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.home import DEFAULT_HOME


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Timer:
    """Collects seconds per named stage."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - start, 3)


def emit(figures: dict[str, Any]) -> None:
    """Print the human-readable lines, then the one JSON line."""
    for key, value in figures.items():
        if not isinstance(value, dict):
            print(f"{key:>28}: {value}")
    print(json.dumps(figures, sort_keys=True))


def bench_generate(*, persons: int, seed: int, months: int) -> None:
    from synthetic import GeneratorConfig, generate

    with tempfile.TemporaryDirectory(prefix="phm-bench-gen-") as tmp:
        start = time.perf_counter()
        summary = generate(GeneratorConfig(persons=persons, seed=seed, months=months), Path(tmp))
        seconds = time.perf_counter() - start
    rows = sum(summary.rows.values())
    emit(
        {
            "stage": "generate",
            "persons": persons,
            "seed": seed,
            "months": months,
            "seconds": round(seconds, 2),
            "rows": rows,
            "rows_per_s": round(rows / seconds),
            "files": summary.files_written,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def bench_data(persons: int, seed: int, months: int) -> Path:
    """Benchmark data, cached per size and seed under .phm/bench (generated in a child process)."""
    data = DEFAULT_HOME / "bench" / f"data-p{persons}-s{seed}-m{months}"
    if not (data / "landing").is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "phm.cli",
                "generate",
                "--persons",
                str(persons),
                "--seed",
                str(seed),
                "--months",
                str(months),
                "--out",
                str(data),
            ],
            check=True,
        )
    return data


def bench_pipeline(*, persons: int, seed: int, months: int) -> None:
    from connectors.spec import EXTRACTS
    from pipelines import steps
    from pipelines.home import Home
    from pseudonymisation import KeyProvider

    data = bench_data(persons, seed, months)
    landing = data / "landing"
    timer = Timer()
    rows_in = 0
    with tempfile.TemporaryDirectory(prefix="phm-bench-home-") as tmp:
        home = Home(Path(tmp)).prepare()
        keys = KeyProvider.dev(home.keys)
        start = time.perf_counter()
        with timer.stage("registers"):
            registers = steps.load_registers(landing, home)
        month_list = steps.landing_months(landing)
        with timer.stage("ingest"):
            for source in EXTRACTS:
                for month in month_list:
                    counts = steps.ingest_month(source, month, landing, home, registers, "bench")
                    rows_in += counts.rows_in if counts else 0
        with timer.stage("gp_master"):
            steps.build_gp_master(home)
        with timer.stage("trace"):
            link_counts = steps.trace_records(home)
        loaded = 0
        with timer.stage("tokenise_vault_deidentify"):
            for source in EXTRACTS:
                loaded += steps.pseudonymise_source(source, home, keys, registers).loaded
        with timer.stage("warehouse"):
            stats = steps.publish_warehouse(
                home, landing, "bench", built_at=datetime(2026, 11, 1, tzinfo=UTC)
            )
        seconds = time.perf_counter() - start
    emit(
        {
            "stage": "pipeline",
            "persons": persons,
            "seed": seed,
            "months": months,
            "seconds": round(seconds, 2),
            "seconds_per_stage": timer.stages,
            "rows_in": rows_in,
            "rows_loaded": loaded,
            "rows_per_s": round(rows_in / seconds),
            "warehouse_rows": sum(stats.rows.values()),
            "trace": link_counts,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


BENCHES: dict[str, Callable[..., None]] = {"generate": bench_generate, "pipeline": bench_pipeline}
