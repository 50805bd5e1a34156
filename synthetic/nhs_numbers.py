"""Vectorised NHS numbers from the 999 test range (never issued to real people)."""

from __future__ import annotations

import numpy as np

_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)  # weights 10..2 over the first nine digits


def check_digits(stems: np.ndarray) -> np.ndarray:
    """Modulus 11 check digit of nine-digit stems; 10 marks a stem with no valid number."""
    digits = (stems[:, None] // (10 ** np.arange(8, -1, -1, dtype=np.int64))) % 10
    check = 11 - (digits @ _WEIGHTS) % 11
    return np.where(check == 11, 0, check)


def _valid_999_numbers() -> np.ndarray:
    stems = 999_000_000 + np.arange(1_000_000, dtype=np.int64)
    check = check_digits(stems)
    ok = check != 10
    return stems[ok] * 10 + check[ok]


CAPACITY = 909_091  # valid numbers in 999 000 0000-999 999 9999 (asserted in tests)


def sample_nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unique valid NHS numbers (int64) from the 999 test range, in random order."""
    valid = _valid_999_numbers()
    if n > len(valid):
        raise ValueError(
            f"{n:,} people need NHS numbers but the 999 test range holds only {len(valid):,} valid "
            "NHS numbers; lower persons (persons plus births must fit)"
        )
    return rng.choice(valid, size=n, replace=False)


def corrupt_check_digit(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same numbers with a different (therefore wrong) final digit."""
    shift = rng.integers(1, 10, size=len(numbers))
    last = (numbers % 10 + shift) % 10
    return numbers // 10 * 10 + last
