"""What every benchmark shares: stage timing, peak memory, and figures ending in one JSON line.

Printing is this module's job (benchmarks are run by people and compared by scripts), so `emit` writes
the human-readable lines and then one JSON line a later run can be diffed against.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import Refused


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Timer:
    """Collects seconds per named stage (a stage entered twice adds up)."""

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


class BenchError(Refused, RuntimeError):
    """A benchmark could not run; the message says why (no patient data is ever involved)."""
