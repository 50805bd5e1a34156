"""TokenMap and LsoaLookup: the lookups de-identification prepares once per load, checked value by value
against what they replace (a left join on the number, the postcode reference normalised per file)."""

import datetime as dt
import hashlib

import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from pseudonymisation import Key, LsoaLookup, Tokeniser, TokenMap, deidentify

TOKENISER = Tokeniser(Key("token", 1, hashlib.sha256(b"phm-test-token-key").digest()))
NUMBERS = pl.Series("nhs_number", ["9990000026", "9990000018", "9000000009", "9990000034"])
MAP = pl.DataFrame({"nhs_number": NUMBERS, "person_token": TOKENISER.tokenise(NUMBERS)})


def token(nhs: str) -> str:
    return TOKENISER.tokenise(pl.Series([nhs]))[0]


def test_tokens_are_the_mapped_token_of_each_row_in_row_order() -> None:
    rows = pl.Series("nhs_number", ["9990000018", None, "9990000034", "9990000018", "9000000009"])
    tokens = TokenMap(MAP).tokens(rows)
    assert tokens.name == "nhs_number"
    assert tokens.to_list() == [
        token("9990000018"), None, token("9990000034"), token("9990000018"), token("9000000009")
    ]  # fmt: skip


def test_numbers_outside_the_map_or_malformed_get_null() -> None:
    # Below the smallest key, above the largest, between two keys, and text that is not 10 digits
    # ('999000001' must never borrow the token of '0999000001', which has the same integer value).
    token_map = pl.DataFrame(
        {"nhs_number": ["0999000001", "9990000026"], "person_token": ["P1-" + "c" * 32, "x"]}
    )
    rows = pl.Series(["0000000001", "9999999999", "9990000018", "999000001", "99900000261", "abcdefghij"])
    assert TokenMap(token_map).tokens(rows).to_list() == [None] * 6
    assert TokenMap(token_map).tokens(pl.Series(["0999000001"])).to_list() == ["P1-" + "c" * 32]


def test_same_tokens_as_the_left_join_it_replaces() -> None:
    rows = pl.Series("nhs_number", ["9990000034", "9990000042", None, "9990000026", "9000000009"] * 3)
    joined = (
        rows.to_frame()
        .join(MAP, on="nhs_number", how="left", maintain_order="left")
        .get_column("person_token")
        .rename("nhs_number")
    )
    assert_series_equal(TokenMap(MAP).tokens(rows), joined)


def test_an_empty_map_gives_null_for_every_row() -> None:
    empty = pl.DataFrame(schema={"nhs_number": pl.String, "person_token": pl.String})
    assert len(TokenMap(empty)) == 0
    assert TokenMap(empty).tokens(pl.Series(["9990000018", None])).to_list() == [None, None]


def test_deidentify_with_prepared_lookups_equals_raw_frames() -> None:
    reference = pl.DataFrame({"postcode": ["LS1 4AP", "bd11aa"], "lsoa21cd": ["E01033010", "E01010647"]})
    frame = pl.DataFrame(
        {
            "nhs_number": ["9990000018", None, "9990000042"],
            "pseudo_id": [None, "U1-" + "a" * 32, None],
            "date_of_birth": [dt.date(1950, 3, 9), None, dt.date(1988, 1, 1)],
            "postcode": ["LS14AP", "BD1 1AA", None],
        }
    )
    prepared = deidentify(frame, TOKENISER, LsoaLookup(reference), token_map=TokenMap(MAP))
    assert_frame_equal(prepared, deidentify(frame, TOKENISER, reference, token_map=MAP))
    assert prepared.to_dicts() == [
        {"person_token": token("9990000018"), "birth_year_month": "1950-03", "lsoa21": "E01033010"},
        {"person_token": "U1-" + "a" * 32, "birth_year_month": None, "lsoa21": "E01010647"},
        {"person_token": token("9990000042"), "birth_year_month": "1988-01", "lsoa21": None},
    ]


def test_lsoa_lookup_refuses_a_reference_it_cannot_use() -> None:
    with pytest.raises(ValueError, match=r"^postcode_lsoa lookup lacks column\(s\) \['lsoa21cd'\]$"):
        LsoaLookup(pl.DataFrame({"postcode": ["LS1 4AP"]}))
    two = pl.DataFrame({"postcode": ["LS1 4AP", "ls14ap"], "lsoa21cd": ["E01033010", "E01000001"]})
    with pytest.raises(ValueError, match="^postcode_lsoa maps some postcodes to more than one LSOA$"):
        LsoaLookup(two)


def test_lsoa_lookup_normalises_postcodes_once() -> None:
    reference = pl.DataFrame({"postcode": ["ls2 7ee", "LS2 7EE", None], "lsoa21cd": ["E01033015"] * 3})
    assert LsoaLookup(reference).frame.to_dicts() == [{"_pc": "LS2 7EE", "_lsoa21": "E01033015"}]
