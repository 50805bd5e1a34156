"""The clerical review file: private, stable ids, decisions kept across rewrites and read back strictly."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import polars as pl
import pytest

from linkage import review
from linkage.trace import trace

MASTER = pl.DataFrame(
    {
        "nhs_number": ["9990000001", "9990000002"],
        "given_name": ["JOHN", "MARY"],
        "family_name": ["SMITH", "OBRIEN"],
        "date_of_birth": [dt.date(1980, 4, 3), dt.date(1975, 12, 1)],
        "sex": ["M", "F"],
        "postcode": ["QA1 1AA", "QB2 2BB"],
        "postcode_history": [["QA1 1AA"], ["QA9 9AA", "QB2 2BB"]],
    }
)
RECORDS = pl.DataFrame(
    {
        "row_idx": [0, 1],
        "given_name": ["JON", "MARIE"],
        "family_name": ["SMITH", "OBRIEN"],
        "date_of_birth": [dt.date(1980, 4, 3), dt.date(1975, 12, 1)],
        "sex": ["M", "F"],
        "postcode": ["QA1 1AA", None],
    }
)
PAIRS = pl.DataFrame(
    {
        "row_idx": [0, 1],
        "nhs_number": ["9990000001", "9990000002"],
        "match_probability": [0.7, 0.6],
        "reason": ["band"] * 2,
    }
)


def _queue() -> pl.DataFrame:
    return review.build_queue(PAIRS, RECORDS, MASTER, left_id="row_idx")


def test_queue_shows_both_records_side_by_side_with_a_stable_pair_id() -> None:
    q = _queue()
    assert q.columns == list(review.QUEUE_COLUMNS)
    row = q.filter(pl.col("candidate_nhs_number") == "9990000001").row(0, named=True)
    assert row["record_key"] == "1980-04-03|M|QA1 1AA|JON|SMITH"
    assert row["pair_id"] == review.pair_id("1980-04-03|M|QA1 1AA|JON|SMITH", "9990000001")
    assert (row["record_given_name"], row["master_given_name"]) == ("JON", "JOHN")
    assert (
        q.filter(pl.col("candidate_nhs_number") == "9990000002")["master_postcode_history"].item()
        == "QA9 9AA; QB2 2BB"
    )


def test_written_0600_and_rewrites_keep_decisions(tmp_path: Path) -> None:
    path = tmp_path / "queue.csv"
    assert review.write_queue(_queue(), path) == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    filled = pl.read_csv(path, infer_schema=False).with_columns(
        pl.when(pl.col("candidate_nhs_number") == "9990000001").then(pl.lit("no_match")).alias("decision"),
        pl.lit("A. Reviewer").alias("reviewer"),
    )
    filled.write_csv(path)
    assert review.write_queue(_queue(), path) == 1  # the decided pair is not queued again
    decisions = review.read_decisions(path)
    assert decisions.select("nhs_number", "decision").rows() == [("9990000001", "no_match")]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_bad_decisions_and_edited_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue.csv"
    review.write_queue(_queue(), path)
    rows = pl.read_csv(path, infer_schema=False)
    rows.with_columns(pl.lit("maybe").alias("decision")).write_csv(path)
    with pytest.raises(ValueError, match="2 review row"):
        review.read_decisions(path)
    rows.with_columns(
        pl.lit("match").alias("decision"), pl.lit("9990000009").alias("candidate_nhs_number")
    ).write_csv(path)
    with pytest.raises(ValueError, match="edited"):
        review.read_decisions(path)


def test_last_decision_for_a_pair_wins() -> None:
    d = pl.DataFrame({"record_key": ["k", "k"], "nhs_number": ["1", "1"], "decision": ["match", "no_match"]})
    assert review.decided_pairs(d)["decision"].to_list() == ["no_match"]
    assert review.decided_pairs(None).height == 0


def test_pseudo_id_merges_map_earlier_keys_to_the_linked_nhs_number() -> None:
    records = pl.DataFrame(
        {
            "given_name": ["John", "Zed"],
            "family_name": ["Smith", "Nobody"],
            "date_of_birth": [dt.date(1980, 4, 3), dt.date(2001, 1, 1)],
            "sex": ["M", "M"],
            "postcode": ["QA1 1AA", "QC9 9XX"],
        }
    )
    before = trace(records, MASTER, passes=[], namespace="asc").frame  # nobody traced: both get keys
    after = trace(records, MASTER, namespace="asc").frame  # John is traced exactly now
    merges = review.pseudo_id_merges(before["pseudo_key"], after, namespace="asc")
    assert merges.rows() == [(before["pseudo_key"][0], "9990000001")]
