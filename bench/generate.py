"""`phm bench generate`: the synthetic generator, timed in this process (its peak memory included)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.data import fit_persons
from bench.report import emit, peak_rss_mb
from synthetic import GeneratorConfig, generate


def bench_generate(*, persons: int, seed: int, months: int) -> None:
    """Generate a synthetic ICS into a temporary folder and print rows, files, speed and memory."""
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
