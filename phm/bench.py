"""Benchmarks: figures per stage, ending with one JSON line so runs can be compared.

`bench generate` times the synthetic generator in this process. `bench pipeline` first makes sure the
data exists (generated in a child process, outside the timing and outside this process's peak
memory), then times each stage of landing -> warehouse by calling the same `pipelines.steps`
functions the Dagster assets call.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import Refused
from core.layout import DEFAULT_HOME


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


def fit_persons(requested: int, months: int) -> int:
    """`requested`, or the largest synthetic ICS the 999 test range can hold if it cannot hold that.

    Every synthetic person (births included) needs a unique valid NHS number from 999 000 0000 to
    999 999 9999, and there are only 909,091 of those; so `--persons 1000000` runs at 880,000 (for
    24 months) and says so. The figure allows for the births of the period and their random spread.
    """
    from synthetic.config import GeneratorConfig
    from synthetic.nhs_numbers import CAPACITY

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


def bench_generate(*, persons: int, seed: int, months: int) -> None:
    from synthetic import GeneratorConfig, generate

    requested, persons = persons, fit_persons(persons, months)
    with tempfile.TemporaryDirectory(prefix="phm-bench-gen-") as tmp:
        start = time.perf_counter()
        summary = generate(GeneratorConfig(persons=persons, seed=seed, months=months), Path(tmp))
        seconds = time.perf_counter() - start
    rows = sum(summary.rows.values())
    emit(
        {
            "stage": "generate",
            "persons": persons,
            "persons_requested": requested,
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
        command = [sys.executable, "-m", "phm.cli", "generate", "--persons", str(persons), "--seed", str(seed),
                   "--months", str(months), "--out", str(data)]  # fmt: skip
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            raise BenchError(
                f"generating the benchmark data failed (exit {done.returncode}; its message is above)"
            )
    return data


class BenchError(Refused, RuntimeError):
    """A benchmark could not run; the message says why (no patient data is ever involved)."""


def run_stages(
    landing: Path, home_root: Path, timer: Timer, *, quality_checks: bool = True
) -> dict[str, Any]:
    """Landing -> warehouse with `pipelines.steps` (what the Dagster assets call), stage by stage."""
    import load as steps
    from connectors.spec import EXTRACTS
    from core.layout import Home
    from pseudonymisation import KeyProvider

    home = Home(home_root).prepare()
    keys = KeyProvider.dev(home.keys)
    rows_in = 0
    with timer.stage("registers"):
        registers = steps.load_registers(landing, home)
    month_list = steps.landing_months(landing)
    with timer.stage("ingest"):
        pairs = [(source, month) for source in EXTRACTS for month in month_list]
        for outcome in steps.ingest_months(pairs, landing, home, registers, "bench"):
            if outcome.error is not None:
                raise RuntimeError(outcome.error)
            rows_in += outcome.counts.rows_in if outcome.counts else 0
    with timer.stage("gp_master"):
        steps.build_gp_master(home)
    with timer.stage("trace"):
        link_counts = steps.trace_records(home)
    with timer.stage("token_map_and_vault"):
        people = steps.build_token_map(home, keys, registers)
    loaded = 0
    with timer.stage("deidentify"):
        for source in EXTRACTS:
            loaded += steps.pseudonymise_source(source, home, keys, registers).loaded
    quality_seconds: dict[str, float] = {}
    with timer.stage("warehouse_build_and_quality"):
        stats = steps.publish_warehouse(
            home, landing, "bench", built_at=datetime(2026, 11, 1, tzinfo=UTC),
            quality_checks=quality_checks, timings=quality_seconds,
        )  # fmt: skip
    return {
        "rows_in": rows_in,
        "rows_loaded": loaded,
        "warehouse_rows": sum(stats.rows.values()),
        "trace": link_counts,
        "people_tokenised": people,
        "quality_s": round(quality_seconds.get("quality", 0.0), 2),
    }


def bench_pipeline(*, persons: int, seed: int, months: int) -> None:
    requested, persons = persons, fit_persons(persons, months)
    data = bench_data(persons, seed, months)
    timer = Timer()
    home_root = bench_home(persons, seed, months)
    if home_root.exists():
        shutil.rmtree(home_root)
    import quality

    quality.load_gx()  # a one-off import per process (~5-9 s), paid before the clock like polars'
    start = time.perf_counter()
    figures = run_stages(data / "landing", home_root, timer)
    seconds = time.perf_counter() - start
    quality_s = figures.pop("quality_s")
    emit({
        "stage": "pipeline",
        "persons": persons,
        "persons_requested": requested,
        "seed": seed,
        "months": months,
        "seconds": round(seconds, 2),
        "seconds_per_stage": timer.stages,
        "rows_per_s": round(figures["rows_in"] / seconds),
        "quality_seconds": quality_s,
        "quality_share_of_pipeline": round(quality_s / (seconds - quality_s), 3),
        **figures,
        "peak_rss_mb": peak_rss_mb(),
    })  # fmt: skip


def bench_home(persons: int, seed: int, months: int) -> Path:
    """Where `bench pipeline` leaves its installation, reused by `bench model`."""
    return DEFAULT_HOME / "bench" / f"home-p{persons}-s{seed}-m{months}"


def bench_model(*, persons: int, seed: int, months: int) -> None:
    """Risk model vs the generator's oracle (features + training + scoring timed; the load is not)."""
    from cohort.model import benchmark, truth_frame
    from core.layout import Home
    from pseudonymisation import KeyProvider, Tokeniser

    requested, persons = persons, fit_persons(persons, months)
    data = bench_data(persons, seed, months)
    home = Home(bench_home(persons, seed, months))
    if not home.warehouse.exists():
        run_stages(data / "landing", home.root, Timer(), quality_checks=False)
    tokeniser = Tokeniser(KeyProvider.dev(home.keys).token_key(), domain="warehouse")
    figures = benchmark(home.warehouse, truth_frame(data / "truth", tokeniser.tokenise))
    emit({
        "stage": "model", "persons": persons, "persons_requested": requested, "seed": seed, **figures,
        "peak_rss_mb": peak_rss_mb(),
    })  # fmt: skip


def bench_link(*, persons: int, seed: int, unlinked: int) -> None:
    """Tracing (exact passes then Splink) of `unlinked` records against a `persons` GP master."""
    from linkage.probabilistic import benchmark

    start = time.perf_counter()
    figures = benchmark(persons, unlinked, seed)
    emit({
        "stage": "link",
        "persons": persons,
        "unlinked": unlinked,
        "seed": seed,
        "seconds": figures.get("trace_s", round(time.perf_counter() - start, 2)),
        **{k: v for k, v in figures.items() if k not in {"persons", "unlinked", "seed"}},
        "peak_rss_mb": peak_rss_mb(),
    })  # fmt: skip


BENCHES: dict[str, Callable[..., None]] = {
    "generate": bench_generate,
    "pipeline": bench_pipeline,
    "model": bench_model,
    "link": bench_link,
}
