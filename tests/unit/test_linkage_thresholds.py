"""linkage.thresholds on inline scores: the threshold where expected precision meets the target, and a
review band sized to the queue a reviewer can take."""

from __future__ import annotations

import polars as pl
import pytest

from linkage.thresholds import ThresholdPolicy, choose_thresholds

# 95 near-certain pairs, then a tail the model is less sure of (one record without a candidate).
SCORES = pl.Series([0.9999] * 95 + [0.97, 0.9, 0.8, 0.7, 0.6, 0.55, 0.45, 0.4, 0.3, 0.25, 0.1, None])


def test_the_lowest_threshold_whose_expected_precision_meets_the_target() -> None:
    chosen = choose_thresholds(SCORES, ThresholdPolicy(precision=0.995, max_queue=3, min_review=0.2))
    # Expected false matches when accepting down to 0.8: 95 * 0.0001 + 0.03 + 0.1 + 0.2 = 0.3395 of 98,
    # precision 0.99654; down to 0.7 it would be 0.6395 of 99, 0.99354 < 0.995.
    assert chosen.threshold == 0.8
    assert (chosen.accepted, chosen.expected_false_matches) == (98, 0.3395)
    assert chosen.expected_precision == pytest.approx(1 - 0.3395 / 98, abs=1e-6)
    # The band holds the three most likely of the rest: 0.7, 0.6, 0.55.
    assert chosen.review_band == (0.55, 0.8) and chosen.review_queue == 3


def test_a_queue_that_fits_reaches_down_to_the_review_floor() -> None:
    chosen = choose_thresholds(SCORES, ThresholdPolicy(precision=0.995, max_queue=50, min_review=0.3))
    assert chosen.review_band == (0.3, 0.8) and chosen.review_queue == 6  # 0.7 ... 0.3


def test_the_threshold_never_falls_below_min_threshold() -> None:
    sure = pl.Series([1.0] * 10_000 + [0.45])  # the average would allow 0.45: one pair in two is wrong
    chosen = choose_thresholds(sure, ThresholdPolicy(precision=0.99, min_review=0.2))
    assert chosen.threshold == 1.0 and chosen.accepted == 10_000
    assert chosen.review_band == (0.2, 1.0) and chosen.review_queue == 1
    # With the default floor (0.5, the fixed band's) the 0.45 pair is not worth a reviewer's time.
    assert choose_thresholds(sure, ThresholdPolicy(precision=0.99)).review_queue == 0


def test_nothing_meets_the_target_so_nothing_is_accepted() -> None:
    chosen = choose_thresholds(pl.Series([0.6, 0.55]), ThresholdPolicy(precision=0.999, max_queue=0))
    assert (chosen.threshold, chosen.accepted, chosen.review_queue) == (1.0, 0, 0)
    assert chosen.expected_precision == 1.0


def test_a_policy_that_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="min_review <= min_threshold"):
        ThresholdPolicy(min_review=0.6, min_threshold=0.5)


def test_without_a_precision_target_the_given_threshold_stands_and_only_the_band_is_sized() -> None:
    policy = ThresholdPolicy(precision=None, max_queue=2, min_review=0.2)
    chosen = choose_thresholds(SCORES, policy, threshold=0.9)
    assert (chosen.threshold, chosen.accepted, chosen.review_band, chosen.review_queue) == (
        0.9,
        97,
        (0.7, 0.9),
        2,
    )
    with pytest.raises(ValueError, match="needs the threshold"):
        choose_thresholds(SCORES, policy)
