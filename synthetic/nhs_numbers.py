"""Vectorised synthetic NHS numbers from the test ranges (never issued to real people).

NHS numbers from 900 000 000n to 999 999 999n are not issued to real patients (the `nhs-number`
package lists the range as "not to be issued - synthetic/test patients"). The 999 range inside it
holds 909,091 valid numbers; a population up to that size draws only from it, exactly as it always has
(same seed, same bytes). A larger one takes the whole 999 range and draws the rest from the wider
900 000 0000 - 998 999 9999 test range (exactly 90,000,000 more valid numbers). Nothing ever falls
outside 900 000 0000 - 999 999 9999 (`TEST_RANGE`, asserted in tests and scans).
"""

from __future__ import annotations

import numpy as np

_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)  # weights 10..2 over the first nine digits

TEST_RANGE = (900_000_000_0, 999_999_999_9)  # first and last ten-digit synthetic NHS number
_WIDE_STEMS = (900_000_000, 999_000_000)  # nine-digit stems of the wider range, 999 block excluded


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
WIDE_CAPACITY = 90_000_000  # valid numbers in 900 000 0000-998 999 9999 (asserted in tests)


def _wider_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unique valid numbers from 900 000 0000-998 999 9999, in random order, in O(n) memory.

    Stems are drawn with replacement in rounds, those without a valid check digit dropped and repeats
    kept at their first draw, until ``n`` are found: a full list of the ~90M valid numbers (0.7 GB)
    is never built. Deterministic for a given generator state.
    """
    found = np.empty(0, dtype=np.int64)
    while len(found) < n:
        want = n - len(found)
        stems = rng.integers(*_WIDE_STEMS, size=int(want * 1.15) + 1_000, dtype=np.int64)
        check = check_digits(stems)
        drawn = np.concatenate([found, (stems * 10 + check)[check != 10]])
        _, first = np.unique(drawn, return_index=True)
        found = drawn[np.sort(first)]
    return found[:n]


def sample_nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unique valid synthetic NHS numbers (int64), in random order.

    Up to 909,091 people come from the 999 range alone (unchanged output for those sizes); beyond it
    every 999 number is used and the rest come from the wider 9-prefix test range.
    """
    valid = _valid_999_numbers()
    if n <= len(valid):
        return rng.choice(valid, size=n, replace=False)
    if n > len(valid) + WIDE_CAPACITY:
        raise ValueError(
            f"{n:,} people need NHS numbers but the synthetic test range 900 000 0000-999 999 9999 "
            f"holds only {len(valid) + WIDE_CAPACITY:,} valid NHS numbers; lower persons "
            "(persons plus births must fit)"
        )
    return rng.permutation(np.concatenate([valid, _wider_numbers(rng, n - len(valid))]))


def corrupt_check_digit(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same numbers with a different (therefore wrong) final digit."""
    shift = rng.integers(1, 10, size=len(numbers))
    last = (numbers % 10 + shift) % 10
    return numbers // 10 * 10 + last
