"""deidentify: what reaches the warehouse, row by row, from a small inline record frame."""

import datetime as dt
import hashlib

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pseudonymisation import IDENTIFIABLE_COLUMNS, Key, Tokeniser, deidentify

TOKENISER = Tokeniser(Key("token", 1, hashlib.sha256(b"phm-test-token-key").digest()))
LOOKUP = pl.DataFrame(
    {
        "postcode": ["LS1 4AP", "BD1 1AA", "ls2 7ee"],
        "lsoa21cd": ["E01033010", "E01010647", "E01033015"],
    }
)


def tok(nhs: str) -> str:
    return TOKENISER.tokenise(pl.Series([nhs]))[0]


def records() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [1, 2, 3, 4],
            "nhs_number": ["9990000018", None, "9990000026", None],
            "pseudo_id": [None, "U1-" + "a" * 32, "U1-" + "b" * 32, None],
            "given_name": ["Ada", "Bo", "Cy", "Di"],
            "family_name": ["Test", "Test", "Test", "Test"],
            "date_of_birth": [dt.date(1950, 3, 9), dt.date(2001, 12, 31), None, dt.date(1988, 1, 1)],
            "postcode": ["ls14ap", " BD1  1AA ", "LS2 7EE", "ZZ99 9ZZ"],
            "address": ["1 Test St", "2 Test St", "3 Test St", "4 Test St"],
            "sex": ["F", "M", "F", "M"],
        },
        schema_overrides={"date_of_birth": pl.Date},
    )


def test_deidentify_spec() -> None:
    expected = pl.DataFrame(
        {
            # NHS token wins; pseudo_id only where the NHS number is null; neither -> null.
            "person_token": [tok("9990000018"), "U1-" + "a" * 32, tok("9990000026"), None],
            "record_id": [1, 2, 3, 4],
            # pseudo_id is not kept beside person_token: key rotation rewrites person_token only.
            "sex": ["F", "M", "F", "M"],
            "birth_year_month": ["1950-03", "2001-12", None, "1988-01"],
            "lsoa21": ["E01033010", "E01010647", "E01033015", None],
        }
    )
    assert_frame_equal(deidentify(records(), TOKENISER, LOOKUP), expected)


def test_no_identifiable_column_survives() -> None:
    frame = records().with_columns(
        pl.lit("x").alias("address_line_1"),
        pl.lit("07700900000").alias("telephone"),
        pl.lit(dt.date(2020, 5, 17)).alias("date_of_death"),
    )
    out = deidentify(frame, TOKENISER, LOOKUP)
    assert set(out.columns) & set(IDENTIFIABLE_COLUMNS) == set()
    assert out.get_column("death_year_month").to_list() == ["2020-05"] * 4
    assert out.height == frame.height
    values = {str(v) for col in out.iter_columns() for v in col.to_list()}
    assert not values & {"9990000018", "9990000026", "Ada", "1 Test St", "ls14ap", "1950-03-09"}


def test_frame_without_identifiers_passes_through() -> None:
    frame = pl.DataFrame({"token": ["P1-" + "c" * 32], "code": ["X"]})
    assert_frame_equal(deidentify(frame, TOKENISER, None), frame)


def test_nhs_number_only_frame() -> None:
    out = deidentify(pl.DataFrame({"nhs_number": ["9990000018", None]}), TOKENISER)
    assert out.to_dict(as_series=False) == {"person_token": [tok("9990000018"), None]}


def test_postcode_needs_a_lookup_unless_lsoa_present() -> None:
    with pytest.raises(ValueError, match="no postcode_lsoa lookup"):
        deidentify(pl.DataFrame({"postcode": ["LS1 4AP"]}), TOKENISER, None)
    frame = pl.DataFrame({"postcode": ["LS1 4AP", "BD1 1AA"], "lsoa21": ["E01999999", None]})
    assert deidentify(frame, TOKENISER, None).to_dict(as_series=False) == {"lsoa21": ["E01999999", None]}
    # With a lookup, an lsoa21 already on the record wins and gaps are filled.
    assert deidentify(frame, TOKENISER, LOOKUP).to_dict(as_series=False) == {
        "lsoa21": ["E01999999", "E01010647"]
    }


def test_postcodes_are_matched_to_the_lookup_by_the_connectors_rule() -> None:
    # connectors.normalise.postcode on both sides: a short value is kept rather than nulled, so it
    # finds the lookup row of the same short value; punctuation is not stripped, so 'LS1-4AP' misses.
    lookup = pl.DataFrame({"postcode": ["LS1 4AP", "N1"], "lsoa21cd": ["E01033010", "E01000002"]})
    frame = pl.DataFrame({"postcode": ["ls1\t4ap", "n1 ", "LS1-4AP", ""]})
    out = deidentify(frame, TOKENISER, lookup)
    assert out.to_dict(as_series=False) == {"lsoa21": ["E01033010", "E01000002", None, None]}


def test_ambiguous_lookup_refused() -> None:
    lookup = pl.DataFrame({"postcode": ["LS1 4AP", "ls14ap"], "lsoa21cd": ["E01033010", "E01000001"]})
    with pytest.raises(ValueError, match="more than one LSOA"):
        deidentify(pl.DataFrame({"postcode": ["LS1 4AP"]}), TOKENISER, lookup)


def test_duplicate_identical_lookup_rows_do_not_duplicate_records() -> None:
    lookup = pl.concat([LOOKUP, LOOKUP])
    out = deidentify(pl.DataFrame({"postcode": ["LS1 4AP", "LS1 4AP"]}), TOKENISER, lookup)
    assert out.get_column("lsoa21").to_list() == ["E01033010", "E01033010"]


def test_date_of_birth_must_be_a_date() -> None:
    with pytest.raises(TypeError, match="date_of_birth must be a Date"):
        deidentify(pl.DataFrame({"date_of_birth": ["1950-03-09"]}), TOKENISER, None)


def test_token_map_gives_the_same_tokens_as_hashing() -> None:
    numbers = pl.Series("nhs_number", ["9990000018", "9990000026"])
    token_map = pl.DataFrame({"nhs_number": numbers, "person_token": TOKENISER.tokenise(numbers)})
    assert_frame_equal(
        deidentify(records(), TOKENISER, LOOKUP, token_map=token_map),
        deidentify(records(), TOKENISER, LOOKUP),
    )


def test_token_map_missing_a_number_still_tokenises_it() -> None:
    token_map = pl.DataFrame({"nhs_number": ["9990000018"], "person_token": [tok("9990000018")]})
    out = deidentify(records(), TOKENISER, LOOKUP, token_map=token_map)
    assert out["person_token"].to_list() == [tok("9990000018"), "U1-" + "a" * 32, tok("9990000026"), None]


def test_token_map_never_matches_a_number_that_is_not_ten_digits() -> None:
    # Joined on the number as an integer: '999000001' must not borrow the token of '0999000001'.
    token_map = pl.DataFrame({"nhs_number": ["0999000001"], "person_token": ["P1-" + "c" * 32]})
    frame = pl.DataFrame({"nhs_number": ["999000001"]})
    with pytest.raises(ValueError, match=r"^1 value\(s\) are not normalised 10-digit NHS numbers"):
        deidentify(frame, TOKENISER, token_map=token_map)
