"""Normalisation: NHS numbers (vectorised modulus 11), postcodes, sex, codes."""

from __future__ import annotations

import numpy as np
import polars as pl
from nhs_number import is_valid

from connectors import normalise as nz


def _nhs(values: list[str | None]) -> list[tuple[str | None, str]]:
    frame = pl.DataFrame({"nhs_number": values}, schema={"nhs_number": pl.String})
    out = nz.with_nhs_number(frame.lazy()).collect()
    return list(out.select("nhs_number", "nhs_number_status").iter_rows())


def test_nhs_number_normalisation_and_status() -> None:
    assert is_valid("9990000018") and not is_valid("9990000019")
    assert _nhs(
        [
            "9990000018",
            "999 000 0026",
            "999-000-0034",
            " 999 000-0042 ",
            "9990000019",  # wrong check digit
            "999000001",  # nine digits
            "99900000180",  # eleven digits
            "999000001X",
            "",
            "   ",
            None,
        ]
    ) == [
        ("9990000018", "valid"),
        ("9990000026", "valid"),
        ("9990000034", "valid"),
        ("9990000042", "valid"),
        (None, "invalid"),
        (None, "invalid"),
        (None, "invalid"),
        (None, "invalid"),
        (None, "missing"),
        (None, "missing"),
        (None, "missing"),
    ]


def test_check_digit_of_ten_is_never_valid() -> None:
    # 999000004x: weighted sum gives check digit 10, so no number with this stem is valid.
    stems = [f"{s:09d}" for s in range(999000000, 999000200)]
    no_valid = [s for s in stems if not any(is_valid(f"{s}{d}") for d in range(10))]
    assert no_valid, "expected at least one stem whose check digit would be 10"
    got = _nhs([f"{no_valid[0]}{d}" for d in range(10)])
    assert got == [(None, "invalid")] * 10


def test_vectorised_check_agrees_with_nhs_number_package() -> None:
    rng = np.random.default_rng(20261126)
    numbers = [f"{n:010d}" for n in rng.integers(9_990_000_000, 9_999_999_999, 20_000)]
    # Outside Scotland's CHI range, where the package also requires the first six digits to be a date.
    numbers += [f"{n:010d}" for n in rng.integers(3_200_000_000, 9_999_999_999, 20_000)]
    expected = [is_valid(n) for n in numbers]
    got = pl.DataFrame({"d": numbers}).select(nz.nhs_is_valid(pl.col("d")).alias("d"))["d"].to_list()
    assert got == expected
    assert 0.05 < sum(expected) / len(expected) < 0.15  # about 1 in 11 random numbers is valid


def test_postcode_normalisation() -> None:
    values = ["sw1a1aa", " SW1A 1AA ", "m1  1ae", "B338TH", "cr2 6xh", "EC1A1BB", "", None, "N1"]
    got = pl.DataFrame({"p": values}, schema={"p": pl.String}).select(nz.postcode(pl.col("p")).alias("p"))[
        "p"
    ]
    assert got.to_list() == [
        "SW1A 1AA",
        "SW1A 1AA",
        "M1 1AE",
        "B33 8TH",
        "CR2 6XH",
        "EC1A 1BB",
        None,
        None,
        "N1",
    ]


def test_postcode_edge_cases_keep_the_connectors_rule() -> None:
    # One normaliser for connectors, tracing and de-identification; where earlier copies disagreed
    # the connectors' rule stands: short values are kept (then fail the pattern), punctuation is not
    # stripped, tabs and newlines count as spaces.
    values = ["ls1", "A", "N1 ", "ab1-2cd", "AB1.2CD", "se1\t7pb", "se1\n7pb", "ec1a 1bb x"]
    got = pl.DataFrame({"p": values}).select(nz.postcode(pl.col("p")).alias("p"))["p"].to_list()
    assert got == ["LS1", "A", "N1", "AB1- 2CD", "AB1. 2CD", "SE1 7PB", "SE1 7PB", "EC1A1 BBX"]


def test_sex_mapping() -> None:
    values = ["1", "2", "9", "0", "m", " F ", "U", "Male", "female", "", None, "Q", "unknown", "I", "x"]
    got = pl.DataFrame({"s": values}, schema={"s": pl.String}).select(nz.sex(pl.col("s")).alias("s"))["s"]
    assert got.to_list() == ["M", "F", "U", "U", "M", "F", "U", "M", "F", "U", "U", "U", "U", "U", "U"]


def test_codes_upper_cased_and_trimmed() -> None:
    values = [" i210 ", "a12345", "", None]
    got = pl.DataFrame({"c": values}, schema={"c": pl.String}).select(nz.code(pl.col("c")).alias("c"))["c"]
    assert got.to_list() == ["I210", "A12345", None, None]


def test_vectorised_check_agrees_with_the_rule_for_every_three_digit_chunk() -> None:
    """The check looks up the first nine digits three at a time: every value of each chunk (000-999 in
    each place, the low ones outside the package's range above included) against the rule written out."""

    def rule(number: str) -> bool:
        check = 11 - sum(int(d) * w for d, w in zip(number, range(10, 1, -1), strict=False)) % 11
        return {11: 0}.get(check, check) == int(number[9])

    rng = np.random.default_rng(20261202)
    numbers = []
    for place in range(3):
        for chunk in range(1000):
            digits = f"{rng.integers(0, 10**10):010d}"
            numbers.append(digits[: 3 * place] + f"{chunk:03d}" + digits[3 * place + 3 :])
    numbers += [f"{n}{d}" for n in ("000000000", "999999999") for d in range(10)]
    expected = [rule(n) for n in numbers]
    got = pl.DataFrame({"d": numbers}).select(nz.nhs_is_valid(pl.col("d")).alias("d"))["d"].to_list()
    assert got == expected
    assert 200 < sum(expected) < 400  # about 1 in 11 of the 3,020
