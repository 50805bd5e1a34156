"""Shared machinery for activity: event frames, Poisson event draws, rate calibration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl


@dataclass
class Activity:
    """All rows of one source over the whole period, before formatting.

    ``frame`` has ``person`` (Int64 person id), ``date`` (the activity date as a day number) and
    source columns under canonical names. Columns named in ``vocab`` hold indices into it; other
    date columns hold day numbers (null if blank); the rest hold final strings.
    """

    source: str
    frame: pl.DataFrame
    vocab: dict[str, np.ndarray] = field(default_factory=dict)


def calibrate(raw: np.ndarray, exposure_years: np.ndarray, target: float) -> np.ndarray:
    """Scale relative rates so the population rate per person-year equals ``target``."""
    total = float((raw * exposure_years).sum())
    return raw * (target * float(exposure_years.sum()) / total) if total > 0 else raw


def poisson_events(
    rng: np.random.Generator, rate: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Events of a Poisson process per person between ``start`` and ``stop`` (inclusive day numbers).

    Returns (person index, day number) arrays, in person order.
    """
    span = (stop - start + 1).clip(0)
    counts = rng.poisson(rate * span / 365.25)
    person = np.repeat(np.arange(len(rate)), counts)
    day = start[person] + (rng.random(len(person)) * span[person]).astype(np.int64)
    return person, day


def pick(rng: np.random.Generator, n: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """``n`` draws of indices with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def pick_code(rng: np.random.Generator, n: int, k: int, first: float = 0.7) -> np.ndarray:
    """Index into a code list of length ``k``: the first code with probability ``first``, else uniform."""
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    other = 1 + rng.integers(0, k - 1, size=n)
    return np.where(rng.random(n) < first, 0, other)


def by_band(table: tuple[float, ...] | list[float], age: np.ndarray) -> np.ndarray:
    """Look up a per-10-year-band value (0-9, ..., 90+) for each age."""
    return np.asarray(table, dtype=float)[np.clip(age // 10, 0, 9).astype(np.int64)]


def uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A day uniformly in [lo, hi] (inclusive); assumes hi >= lo."""
    return lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)
