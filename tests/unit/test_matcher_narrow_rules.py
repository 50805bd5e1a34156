"""The three widest prediction rules also require the same sex only when they would block too many pairs.

`linkage.match_training.narrow_rules` counts, exactly and before any Splink work, the pairs the wide rules
(whole DOB, whole postcode, family prefix + birth year) would block, and narrows them past
`WIDE_RULE_PAIRS`; `linkage.match_model.blocking_keys` then adds sex to those three rules only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from linkage.match_model import DOB, WIDE_KEYS, WIDE_RULE_PAIRS, blocking_keys
from linkage.match_training import narrow_rules
from linkage.matcher import prepare


def _letters(i: int) -> str:
    """A distinct three-letter prefix per person (so the family-prefix rule pairs nobody)."""
    return chr(65 + i // 676 % 26) + chr(65 + i // 26 % 26) + chr(65 + i % 26)


def _people(n: int, *, postcode: str | None, prefix: str) -> pl.DataFrame:
    """`n` people sharing one postcode (or none), with distinct names and dates of birth."""
    frame = pl.DataFrame({
        "id": [f"{prefix}{i}" for i in range(n)],
        "given_name": [f"{_letters(i)}G" for i in range(n)],
        "family_name": [f"{_letters(i)}F" for i in range(n)],
        "date_of_birth": [dt.date(1930, 1, 1) + dt.timedelta(days=i) for i in range(n)],
        "sex": ["M" if i % 2 else "F" for i in range(n)],
        "postcode": [postcode] * n,
    })  # fmt: skip
    return prepare(frame, "id")


def test_frames_under_the_budget_keep_the_wide_rules() -> None:
    # 990 x 1,000 sharing one postcode: 990,000 postcode pairs, plus 990 DOB pairs and 990 family-prefix
    # + birth-year pairs (person i on the left has the same date and prefix as person i on the right).
    left, right = _people(990, postcode="LS1 4AP", prefix="L"), _people(1000, postcode="LS1 4AP", prefix="R")
    assert not narrow_rules(left, right)


def test_frames_over_the_budget_narrow_them() -> None:
    left, right = _people(1001, postcode="LS1 4AP", prefix="L"), _people(1000, postcode="LS1 4AP", prefix="R")
    # 1,001 x 1,000 on the postcode alone is 1,001,000 pairs.
    assert 1001 * 1000 > WIDE_RULE_PAIRS
    assert narrow_rules(left, right)
    # Without the shared postcode the same sizes block only their DOB and family-prefix pairs.
    assert not narrow_rules(
        _people(1001, postcode=None, prefix="L"), _people(1000, postcode=None, prefix="R")
    )


def test_a_dedupe_counts_each_pair_once() -> None:
    # 1,415 records in one postcode: 1,415 * 1,414 / 2 = 1,000,405 pairs, just over the budget;
    # 1,414 records make 998,991, just under (DOB and family prefix + year pair no record with another).
    assert narrow_rules(_people(1415, postcode="LS1 4AP", prefix="P"), None)
    assert not narrow_rules(_people(1414, postcode="LS1 4AP", prefix="P"), None)


def test_narrowing_adds_sex_to_the_three_wide_rules_only() -> None:
    columns = {DOB, "sex", "postcode", "_family3", "_birth_year", "given_name", "family_name"}
    wide, narrow = blocking_keys(columns), blocking_keys(columns, narrow=True)
    assert wide[:3] == list(WIDE_KEYS) == [(DOB,), ("postcode",), ("_family3", "_birth_year")]
    assert narrow[:3] == [(DOB, "sex"), ("postcode", "sex"), ("_family3", "_birth_year", "sex")]
    assert narrow[3:] == wide[3:]
    # A frame without sex (FEBRL 4) keeps whole-field rules either way.
    assert blocking_keys(columns - {"sex"}, narrow=True)[:3] == list(WIDE_KEYS)
