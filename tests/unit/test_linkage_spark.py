"""The matcher on Splink's Spark backend (local Spark) gives the same links as on DuckDB.

A small seeded frame of people, and records about most of them with keying errors, is matched on both
backends with identical settings: the same best candidate, decision and reason for every record, and
probabilities equal to within float noise (the engines sum in different orders).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest

from linkage.backends import check_backend
from linkage.matcher import match_people
from tests.fixtures.spark import spark  # noqa: F401  (the session-scoped fixture)

GIVEN = ["JOHN", "MARY", "ANN", "ROBERT", "AISHA", "OLIVER", "GEETA", "SEAN", "CHLOE", "WEI", "AMIR", "ZOE"]
# py4j (PySpark's bridge to the JVM) leaves its gateway sockets for the JVM to close: not this code's.
# `slow`: a JVM start and two Splink runs; tests/conftest.py hands slow modules to workers first.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.slow,
]

FAMILY = ["SMITH", "OBRIEN", "JONES", "BROWN", "KHAN", "TAYLOR", "PATEL", "MURPHY", "EVANS", "CHEN"]


def _people(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 80 * 365, size=n)
    return pl.DataFrame({
        "pid": [f"R{i}" for i in range(n)],
        "given_name": rng.choice(GIVEN, size=n).tolist(),
        "family_name": rng.choice(FAMILY, size=n).tolist(),
        "date_of_birth": [dt.date(1940, 1, 1) + dt.timedelta(days=int(d)) for d in days],
        "sex": rng.choice(["M", "F"], size=n).tolist(),
        "postcode": [f"Q{chr(65 + a)}{b} {c}{chr(65 + d)}{chr(65 + e)}" for a, b, c, d, e in
                     rng.integers(0, [20, 10, 10, 26, 26], size=(n, 5))],
    })  # fmt: skip


def _records(people: pl.DataFrame, seed: int) -> pl.DataFrame:
    """About 80% of people, each row with at most one error (a typo, a moved postcode, a d/m swap)."""
    rng = np.random.default_rng(seed)
    picked = people.sample(fraction=0.8, seed=seed)
    error = rng.integers(0, 4, size=picked.height)
    given = [g if e != 1 else g[:-1] + "X" for g, e in zip(picked["given_name"], error, strict=True)]
    postcode = [None if e == 2 else p for p, e in zip(picked["postcode"], error, strict=True)]
    dob = [
        d.replace(day=d.month, month=d.day) if e == 3 and d.day <= 12 else d
        for d, e in zip(picked["date_of_birth"], error, strict=True)
    ]
    return picked.select(
        pl.int_range(picked.height).alias("rid"),
        pl.Series("given_name", given),
        pl.col("family_name"),
        pl.Series("date_of_birth", dob, dtype=pl.Date),
        pl.col("sex"),
        pl.Series("postcode", postcode, dtype=pl.String),
    )


RIGHT = _people(300, 5)
LEFT = _records(RIGHT, 6)


def _match(backend: str) -> pl.DataFrame:
    result = match_people(LEFT, RIGHT, left_id="rid", right_id="pid", link_rate=0.8, backend=backend)
    return result.best.sort("rid")


def test_spark_and_duckdb_give_the_same_links(spark: Any) -> None:  # noqa: F811
    on_duckdb, on_spark = _match("duckdb"), _match("spark")
    decisions = ["rid", "pid", "accepted", "reason"]
    assert on_spark.select(decisions).equals(on_duckdb.select(decisions))
    accepted = on_duckdb.filter(pl.col("accepted")).height
    assert accepted >= 0.9 * LEFT.height  # a real linkage, not two empty results agreeing
    gap = (on_spark["match_probability"] - on_duckdb["match_probability"]).abs().max()
    assert isinstance(gap, float) and gap < 1e-6


def test_an_unknown_backend_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError) as refused:
        check_backend("oracle")
    assert str(refused.value) == "backend must be one of duckdb, spark, got 'oracle'"
    with pytest.raises(ValueError, match="backend must be one of duckdb, spark, got 'polars'"):
        match_people(LEFT, RIGHT, left_id="rid", right_id="pid", backend="polars")
