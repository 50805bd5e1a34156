"""Blocking recall of `match_people`'s prediction rules when every true pair has two corrupted fields.

The frame: a 3,000-person register and one record per person in which exactly two of given name,
family name, date of birth and postcode (or, in the second shape, address instead of postcode, as in
FEBRL 4) are corrupted (a two-letter typo, a wholly different date, a mistyped or missing postcode, a
different house number with a misspelt town), chosen at random per record. The pairs the blocking
rules let through (Splink's `deterministic_link`) must contain at least 99 % of the true pairs, and
Splink's blocking analysis must count a bounded number of comparisons.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import duckdb
import numpy as np
import polars as pl
import pytest

from linkage.match_training import blocked_pairs, comparison_counts
from linkage.matcher import prepare
from synthetic.names import FAMILY, GIVEN_FEMALE, GIVEN_MALE

FIELDS = ("given_name", "family_name", "date_of_birth", "postcode")


def _typo(name: str, rng: np.random.Generator) -> str:
    """Two one-letter substitutions after the first three letters when the name is long enough."""
    chars = list(name)
    start = 3 if len(chars) > 5 else 1
    for pos in rng.choice(np.arange(start, len(chars)), size=min(2, len(chars) - start), replace=False):
        chars[pos] = "XQZ"[int(rng.integers(0, 3))] if chars[pos] not in "XQZ" else "A"
    return "".join(chars)


TOWNS = ("LEEDS", "BRADFORD", "HALIFAX", "HUDDERSFIELD", "WAKEFIELD", "HARROGATE", "KEIGHLEY", "DEWSBURY")


def _two_field_frame(n: int, seed: int, place: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    given_pool = sorted({g for t in (*GIVEN_MALE.values(), *GIVEN_FEMALE.values()) for g in t})
    family_pool = sorted({f for t in FAMILY.values() for f in t})
    given = [given_pool[i] for i in rng.integers(0, len(given_pool), n)]
    family = [family_pool[i] for i in rng.integers(0, len(family_pool), n)]
    dob = [dt.date(1930, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 30_000, n)]
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    postcode = [
        f"Q{'ABC'[int(rng.integers(0, 3))]}{int(rng.integers(1, 40))} {int(rng.integers(0, 10))}"
        f"{letters[int(rng.integers(0, 20))]}{letters[int(rng.integers(0, 20))]}"
        for _ in range(n)
    ]
    address = [
        f"{int(rng.integers(1, 200))} {family_pool[int(rng.integers(0, len(family_pool)))].upper()} ROAD "
        f"{TOWNS[int(rng.integers(0, len(TOWNS)))]}"
        for _ in range(n)
    ]
    places = postcode if place == "postcode" else address
    right = pl.DataFrame(
        {"pid": [f"P{i}" for i in range(n)], "given_name": given, "family_name": family,
         "date_of_birth": dob, place: places}
    )  # fmt: skip
    pairs = list(itertools.combinations((*FIELDS[:3], place), 2))
    rows = []
    for i in range(n):
        row = {"rid": f"R{i}", "given_name": given[i], "family_name": family[i], "date_of_birth": dob[i],
               place: places[i]}  # fmt: skip
        for field in pairs[int(rng.integers(0, len(pairs)))]:
            if field in ("given_name", "family_name"):
                row[field] = _typo(str(row[field]).upper(), rng)
            elif field == "date_of_birth":
                row[field] = dt.date(1930, 1, 1) + dt.timedelta(days=int(rng.integers(0, 30_000)))
            elif field == "postcode":
                row[field] = None if rng.random() < 0.3 else str(row[field])[:-1] + "W"
            else:
                _, *street, town = str(row[field]).split(" ")
                row[field] = " ".join([str(int(rng.integers(200, 400))), *street, _typo(town, rng)])
        rows.append(row)
    left = pl.DataFrame(rows, schema={"rid": pl.String, "given_name": pl.String, "family_name": pl.String,
                                      "date_of_birth": pl.Date, place: pl.String})  # fmt: skip
    return left, right


@pytest.mark.parametrize(("place", "rules"), [("postcode", 11), ("address", 10)])
def test_blocking_keeps_99_percent_of_pairs_with_two_corrupted_fields(place: str, rules: int) -> None:
    left, right = _two_field_frame(3000, seed=5, place=place)
    lprep, rprep = prepare(left, "rid"), prepare(right, "pid")
    with contextlib.closing(duckdb.connect()) as con:
        blocked = blocked_pairs(con, lprep, rprep)
    truth = {(f"R{i}", f"P{i}") for i in range(3000)}
    found = set(zip(blocked["unique_id_l"], blocked["unique_id_r"], strict=True)) & truth
    assert len(found) / len(truth) >= 0.99
    # Bounded: fewer than 60 comparisons per left record, counted by Splink's blocking analysis.
    counts = comparison_counts(lprep, rprep)
    assert counts.height == rules  # the key rules these columns allow (none on sex) + the name swap
    assert counts["cumulative"][-1] == blocked.height
    assert blocked.height < 60 * left.height
