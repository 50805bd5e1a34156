"""Synthetic NHS numbers: the 999 range while it suffices, the wider 9-prefix test range beyond it,
never anything outside 900 000 0000-999 999 9999, and the same numbers for the same seed."""

from __future__ import annotations

import nhs_number
import numpy as np
import pytest

from synthetic.nhs_numbers import (
    CAPACITY,
    TEST_RANGE,
    WIDE_CAPACITY,
    _valid_999_numbers,
    check_digits,
    sample_nhs_numbers,
)


def _valid_count(first_digits: range) -> int:
    """Valid numbers among stems ``9 xx dddddd`` (``xx`` in ``first_digits``), counted digit by digit.

    A stem has no valid number when its weighted sum is 1 mod 11 (check digit 10): the distribution
    of the sum mod 11 is built from the digits' weights, independently of `check_digits`.
    """
    sums = np.zeros(11, dtype=np.int64)
    for xx in first_digits:
        sums[(9 * 10 + (xx // 10) * 9 + (xx % 10) * 8) % 11] += 1
    for weight in range(7, 1, -1):
        sums = sum(np.roll(sums, digit * weight % 11) for digit in range(10))
    return int(sums.sum() - sums[1])


def test_the_wider_range_holds_exactly_ninety_million_valid_numbers() -> None:
    assert TEST_RANGE == (9_000_000_000, 9_999_999_999)
    assert _valid_count(range(99, 100)) == len(_valid_999_numbers()) == CAPACITY
    assert _valid_count(range(0, 99)) == WIDE_CAPACITY == 90_000_000


def test_up_to_the_999_capacity_only_999_numbers_are_drawn() -> None:
    numbers = sample_nhs_numbers(np.random.default_rng(3), 50_000)
    assert len(np.unique(numbers)) == 50_000
    assert ((numbers >= 9_990_000_000) & (numbers <= 9_999_999_999)).all()


def test_beyond_it_every_999_number_is_used_and_the_rest_are_valid_9_prefix_numbers() -> None:
    n = CAPACITY + 20_000
    numbers = sample_nhs_numbers(np.random.default_rng(5), n)
    assert len(numbers) == n
    assert len(np.unique(numbers)) == n
    assert ((numbers >= TEST_RANGE[0]) & (numbers <= TEST_RANGE[1])).all()
    assert np.isin(_valid_999_numbers(), numbers).all()
    wider = numbers[numbers < 9_990_000_000]
    assert len(wider) == 20_000
    stems = wider // 10
    assert (check_digits(stems) == wider % 10).all()
    assert all(nhs_number.is_valid(str(x)) for x in wider[:2_000].tolist())
    # shuffled: 999 numbers and wider ones are interleaved, not in two blocks
    assert 0.005 < float((numbers[: n // 10] < 9_990_000_000).mean()) < 0.05


def test_same_seed_same_numbers_beyond_the_999_range() -> None:
    a = sample_nhs_numbers(np.random.default_rng(9), CAPACITY + 10_000)
    b = sample_nhs_numbers(np.random.default_rng(9), CAPACITY + 10_000)
    assert np.array_equal(a, b)


def test_more_people_than_the_test_range_holds_are_refused_before_any_work() -> None:
    with pytest.raises(ValueError) as refused:
        sample_nhs_numbers(np.random.default_rng(1), CAPACITY + WIDE_CAPACITY + 1)
    assert str(refused.value) == (
        "90,909,092 people need NHS numbers but the synthetic test range 900 000 0000-999 999 9999 "
        "holds only 90,909,091 valid NHS numbers; lower persons (persons plus births must fit)"
    )
