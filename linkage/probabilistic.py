"""Probabilistic tracing pass (Splink) for records the exact passes could not trace (identifiable zone).

`SplinkPass` implements the `linkage.trace.Tracer` protocol, so it runs after the deterministic passes:

    trace(records, master, passes=[*DEFAULT_PASSES, SplinkPass(threshold=0.9)], namespace=...)

The master is exploded to one row per known postcode (current and earlier), so a record carrying a stale
postcode still agrees on postcode; best match and ambiguity are judged per NHS number. Clerical decisions
(`linkage.review`) are applied ahead of the model: a decided 'match' links directly, a 'no_match' pair is
never proposed again. Pairs in the uncertainty band can be written to a review queue file.

Nothing here logs row values. (The tracing benchmark and its error-injected data live in `bench.link`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from core.files import write_public
from linkage import review
from linkage.matcher import match_people
from linkage.thresholds import ThresholdPolicy, Thresholds
from linkage.trace import NHS_NUMBER, ROW_IDX, PassResult

METHOD = "probabilistic"
_MATCH_COLUMNS = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")


@dataclass(frozen=True)
class SplinkPass:
    """Tracer: Splink match of the still-unmatched records to the GP master; confidence = match probability.

    - `policy`: how the review band (and with a precision target, the threshold) is chosen from the
      trained model (`linkage.thresholds`); the default sizes the band so the expected queue is at
      most 200 records and keeps `threshold`. None uses the fixed `threshold` and `review_band`.
    - `threshold`: accept a best candidate at or above this probability (see `match_people`).
    - `review_band`: probabilities whose pairs go to the clerical review queue.
    - `card_path`: if set, the model card (the chosen thresholds and what the model expects of them,
      counts and probabilities only) is written there as JSON on every `match` call.
    - `decisions`: reviewer decisions (`review.read_decisions`), honoured ahead of the model.
    - `review_path`: if set, the review queue CSV is (re)written there on every `match` call.
    - `link_rate`: expected share of the records reaching this pass that are in the master (the prior).
    Decided 'match' rows get confidence 1.0.
    """

    policy: ThresholdPolicy | None = field(default_factory=lambda: ThresholdPolicy(precision=None))
    threshold: float = 0.9
    review_band: tuple[float, float] = (0.5, 0.9)
    decisions: pl.DataFrame | None = None
    review_path: Path | None = None
    card_path: Path | None = None
    link_rate: float = 0.8
    seed: int = 42
    max_pairs: float = 1e6
    threads: int | None = None
    m_shrinkage: float = 0.5
    backend: str = "duckdb"  # or 'spark': where Splink runs (`linkage.backends`)
    name: str = field(default=METHOD)

    def required_columns(self) -> frozenset[str]:
        return frozenset({"date_of_birth"})

    def match(self, unmatched: pl.DataFrame, master: pl.DataFrame) -> PassResult:
        cols = [c for c in _MATCH_COLUMNS if c in unmatched.columns and c in master.columns]
        left = unmatched.select(ROW_IDX, *cols).with_columns(
            review.record_key(unmatched).alias(review.RECORD_KEY)
        )
        decided = review.decided_pairs(self.decisions)
        # Decided matches link ahead of the model, but only to a person still in the master.
        direct = (
            left.join(decided.filter(pl.col("decision") == "match"), on=review.RECORD_KEY, how="inner")
            .join(master.select(NHS_NUMBER), on=NHS_NUMBER, how="semi")
            .unique(subset=ROW_IDX, keep="first", maintain_order=True)
            .select(pl.col(ROW_IDX), pl.col(NHS_NUMBER), pl.lit(1.0).alias("confidence"))
        )
        model_left = left.join(direct.select(ROW_IDX), on=ROW_IDX, how="anti")
        blocked = model_left.join(
            decided.filter(pl.col("decision") == "no_match"), on=review.RECORD_KEY, how="inner"
        ).select(ROW_IDX, NHS_NUMBER)
        right = _exploded_master(master, cols)
        result = match_people(
            model_left.drop(review.RECORD_KEY),
            right,
            left_id=ROW_IDX,
            right_id="_master_row",
            right_entity=NHS_NUMBER,
            threshold=self.threshold,
            review_band=self.review_band,
            training_seed=self.seed,
            max_pairs=self.max_pairs,
            link_rate=self.link_rate,
            blocked_pairs=blocked,
            threads=self.threads,
            m_shrinkage=self.m_shrinkage,
            backend=self.backend,
            thresholds=self.policy,
        )
        if self.card_path is not None:
            self._write_card(result.thresholds, model_left.height, result.pairs_scored, result.model)
        accepted = result.best.filter(pl.col("accepted")).select(
            pl.col(ROW_IDX), pl.col(NHS_NUMBER), pl.col("match_probability").alias("confidence")
        )
        if self.review_path is not None:
            queue = review.build_queue(result.review, model_left, master, left_id=ROW_IDX)
            review.write_queue(queue, self.review_path, decisions=self.decisions)
        ambiguous = result.best.filter(pl.col("reason") == "ambiguous").height
        return PassResult(matches=pl.concat([direct, accepted], how="vertical_relaxed"), ambiguous=ambiguous)

    def _write_card(
        self, chosen: Thresholds | None, records: int, pairs: int, model: dict[str, Any] | None
    ) -> None:
        """The model card: how the threshold and band were set, what the model expects of them, and the
        trained model itself as Splink's settings JSON (`splink_model`: comparisons, blocking rules, every
        m and u), so a run's linkage can be inspected and reproduced with Splink alone."""
        card = {
            "model": "splink link_only against the GP master (linkage.match_model, linkage.match_training)",
            "records_scored": records,
            "pairs_scored": pairs,
            "band_from_model": chosen is not None,
            "threshold_from_model": chosen is not None and chosen.policy.precision is not None,
            **(chosen.as_dict() if chosen is not None
               else {"threshold": self.threshold, "review_band": list(self.review_band)}),
            "splink_model": model,
        }  # fmt: skip
        assert self.card_path is not None  # only called with one
        write_public(self.card_path, json.dumps(card, indent=2, sort_keys=True).encode() + b"\n", mode=0o600)


def _exploded_master(master: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """One row per (person, known postcode); people without any postcode keep one row with a null one."""
    base = master.select(NHS_NUMBER, *[c for c in cols if c != "postcode"])
    if "postcode" in cols:
        if "postcode_history" in master.columns:
            pcs = master.select(
                NHS_NUMBER,
                pl.concat_list(pl.col("postcode"), pl.col("postcode_history"))
                .list.drop_nulls()
                .list.unique(maintain_order=True)
                .alias("postcode"),
            ).explode("postcode")
        else:
            pcs = master.select(NHS_NUMBER, "postcode")
        base = base.join(pcs, on=NHS_NUMBER, how="left")
    return base.with_row_index("_master_row")
