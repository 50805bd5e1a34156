"""The match threshold and the clerical review band, chosen from the trained model's own scores.

A fixed threshold (0.9) and band (0.5-0.9) mean different things on different data: where the model is
sure of almost every pair, 0.9 leaves true pairs unlinked; where it is unsure of many, the band floods
a reviewer. Splink's match probability is the model's posterior that a pair is a match, so over the
best candidate of each record it gives the *expected* precision of any threshold (the mean probability
of the pairs accepted) and the *expected* size of the review queue (the pairs between band and threshold).

`choose_thresholds` takes the lowest threshold whose expected precision still meets the policy's target
(never below `min_threshold`: a pair the model finds more likely not a match is not linked, whatever the
average), and sizes the band below it so the expected queue holds at most `max_queue` records. With no
precision target (`precision=None`, what `SplinkPass` uses) the caller's threshold stands and only the
band is sized: on `phm bench link` the model-chosen threshold linked less well than 0.9 (docs/matching.md),
because Splink's probabilities are under-confident on errors it was not tuned on (the threshold rose and
recall fell) and over-confident on those it was (the threshold fell and more pairs were ambiguous). The
result, with the expected figures, goes in the model card beside the model (`SplinkPass(card_path=...)`).
No row values: only probabilities and counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl


@dataclass(frozen=True)
class ThresholdPolicy:
    """What the chosen threshold and band must achieve.

    - `precision`: expected precision of the accepted pairs (mean match probability of them); None
      keeps the caller's threshold and sizes only the review band.
    - `max_queue`: records the review band may send to a reviewer, at most (expected).
    - `min_threshold`: the threshold never goes below this (0.5: more likely a match than not).
    - `min_review`: pairs below this probability are never worth a reviewer's time (also the
      scoring floor: Splink returns no pair below it). 0.5, the fixed band's floor, so the band only
      ever narrows from the fixed one when its queue would be too long.
    """

    precision: float | None = 0.999
    max_queue: int = 200
    min_threshold: float = 0.5
    min_review: float = 0.5

    def __post_init__(self) -> None:
        if (self.precision is not None and not 0.0 < self.precision <= 1.0) or self.max_queue < 0:
            raise ValueError("need 0 < precision <= 1 and max_queue >= 0")
        if not 0.0 <= self.min_review <= self.min_threshold <= 1.0:
            raise ValueError("need 0 <= min_review <= min_threshold <= 1")


@dataclass(frozen=True)
class Thresholds:
    """The chosen threshold and review band (low, high), and what the model expects of them: accepted
    records, expected false matches among them, expected precision, records in the band."""

    threshold: float
    review_band: tuple[float, float]
    accepted: int
    expected_false_matches: float
    expected_precision: float
    review_queue: int
    policy: ThresholdPolicy

    def as_dict(self) -> dict[str, object]:
        """For the model card (JSON): plain numbers, the band as a list."""
        out = asdict(self)
        out["review_band"] = list(self.review_band)
        return out


def choose_thresholds(best: pl.Series, policy: ThresholdPolicy, threshold: float | None = None) -> Thresholds:
    """Threshold and band from `best`: the match probability of each record's best candidate (nulls,
    records without a candidate, are ignored). `threshold` is used as it is when the policy sets no
    precision target (and must then be given)."""
    p = best.drop_nulls().cast(pl.Float64).sort(descending=True)
    frame = pl.DataFrame({"p": p}).with_columns(
        (pl.col("p").cum_sum() / pl.int_range(1, pl.len() + 1)).alias("precision")
    )
    if policy.precision is None:
        if threshold is None:
            raise ValueError("a policy without a precision target needs the threshold")
    else:
        ok = frame.filter((pl.col("precision") >= policy.precision) & (pl.col("p") >= policy.min_threshold))
        threshold = float(ok.get_column("p").min()) if ok.height else 1.0  # type: ignore[arg-type]
    accepted = frame.filter(pl.col("p") >= threshold)
    below = frame.filter((pl.col("p") < threshold) & (pl.col("p") >= policy.min_review)).get_column("p")
    # The band holds the `max_queue` most likely of the rest (ties at its edge included).
    if below.len() <= policy.max_queue:
        low = policy.min_review
    else:
        low = float(below[policy.max_queue - 1]) if policy.max_queue else threshold
    queue = int(((below >= low) & (below < threshold)).sum())
    false = float((1.0 - accepted.get_column("p")).sum())
    return Thresholds(
        threshold=threshold,  # not rounded: the boundary pair must still pass `>= threshold`
        review_band=(min(low, threshold), threshold),
        accepted=accepted.height,
        expected_false_matches=round(false, 4),
        expected_precision=round(1.0 - false / accepted.height, 6) if accepted.height else 1.0,
        review_queue=queue,
        policy=policy,
    )
