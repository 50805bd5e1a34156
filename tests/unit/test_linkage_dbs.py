"""The DBS trace request we write and the response we read (`linkage.dbs`), on inline rows."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from connectors.errors import ExtractFileError
from linkage import dbs

PEOPLE = pl.DataFrame(
    {
        "given_name": ["Ann", "ann ", "Bob", None],
        "family_name": ["O'Brien", "OBRIEN", "Smith", "Jones"],
        "date_of_birth": [date(1950, 3, 1), date(1950, 3, 1), date(1981, 12, 24), None],
        "sex": ["F", "f", "M", "U"],
        "postcode": ["ls1 4ap", "LS1 4AP", "LS2 9JT", "not a postcode"],
    }
)
VALID = "9990000018"  # modulus 11 valid, in the synthetic test range
BAD_CHECK_DIGIT = "9990000017"


def test_references_are_stable_and_shared_by_spellings_that_normalise_alike() -> None:
    refs = dbs.references(PEOPLE)
    assert refs.to_list() == dbs.references(PEOPLE).to_list()
    assert refs[0] == refs[1] != refs[2]
    assert refs.str.len_chars().to_list() == [23] * 4 and all(r.startswith("PHM") for r in refs)


def test_request_rows_follow_the_batch_layout_one_row_per_reference() -> None:
    people = PEOPLE.with_columns(dbs.references(PEOPLE))
    text = dbs.request_bytes(people).decode()
    lines = text.split("\r\n")
    assert lines[0].split(",") == list(dbs.REQUEST_COLUMNS)
    assert lines[-1] == "" and len(lines) == 1 + 3 + 1  # header, three distinct references, final CRLF
    rows = pl.read_csv(text.encode(), infer_schema=False).fill_null("")
    by_ref = {r["UNIQUE_REFERENCE"]: r for r in rows.iter_rows(named=True)}
    ann = by_ref[people["reference"][0]]
    assert (ann["FAMILY_NAME"], ann["GIVEN_NAME"], ann["GENDER"], ann["DATE_OF_BIRTH"], ann["POSTCODE"]) == (
        "OBRIEN", "ANN", "2", "19500301", "LS1 4AP",
    )  # fmt: skip
    bob = by_ref[people["reference"][2]]
    assert (bob["GENDER"], bob["DATE_OF_BIRTH"], bob["NHS_NO"]) == ("1", "19811224", "")
    unknown = by_ref[people["reference"][3]]
    assert (unknown["GENDER"], unknown["DATE_OF_BIRTH"], unknown["POSTCODE"], unknown["GIVEN_NAME"]) == (
        "0", "", "", "",
    )  # fmt: skip


def _response(rows: list[tuple[str, str, str, str]]) -> bytes:
    """UNIQUE_REFERENCE, ERROR_SUCCESS_CODE, MATCHED_NHS_NO, MATCHED_CONFIDENCE_PERCENTAGE per row."""
    head = "UNIQUE_REFERENCE,REQ_NHS_NUMBER,ERROR_SUCCESS_CODE,MATCHED_NHS_NO,MATCHED_ALGORITHM_INDICATOR,MATCHED_CONFIDENCE_PERCENTAGE,FAMILY_NAME"
    body = [f"{ref},,{code},{nhs},3,{pct},SMITH" for ref, code, nhs, pct in rows]
    return ("\r\n".join([head, *body]) + "\r\n").encode()


ISSUED = pl.Series(["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8"])


def test_each_response_row_is_an_answer_or_quarantined_with_its_reason() -> None:
    raw = _response(
        [
            ("R1", "00", VALID, "100.00"),  # line 2: traced
            ("R2", "98", dbs.NO_MATCH_NUMBER, "0"),  # 3: not found
            ("R3", "97", dbs.SEVERAL_NUMBER, "0"),  # 4: several people
            ("R4", "96", "", ""),  # 5: not enough data
            ("R9", "00", VALID, "100"),  # 6: a reference we never issued
            ("R5", "00", BAD_CHECK_DIGIT, "90"),  # 7: bad check digit
            ("R6", "00", dbs.NO_MATCH_NUMBER, "90"),  # 8: a placeholder is no number
            ("R7", "42", VALID, "90"),  # 9: a code the service does not use
            ("R8", "00", VALID, "250"),  # 10: not a percentage
            ("R1", "98", dbs.NO_MATCH_NUMBER, "0"),  # 11: second answer for R1
            ("", "00", VALID, "100"),  # 12: no reference
        ]
    )
    response = dbs.read_response(raw, "dbs/dbs_response_2026-10.csv", ISSUED)
    assert response.answers.select("reference", "outcome", "code", "nhs_number", "confidence").rows() == [
        ("R1", dbs.TRACED, "00", VALID, 1.0),
        ("R2", dbs.NO_MATCH, "98", None, None),
        ("R3", dbs.MULTIPLE_MATCH, "97", None, None),
        ("R4", dbs.NOT_TRACED, "96", None, None),
    ]
    assert response.quarantine.rows() == [
        (6, dbs.UNKNOWN_REFERENCE, "R9"),
        (7, dbs.INVALID_NHS_NUMBER, "R5"),
        (8, dbs.INVALID_NHS_NUMBER, "R6"),
        (9, dbs.INVALID_CODE, "R7"),
        (10, dbs.INVALID_NUMBER, "R8"),
        (11, dbs.DUPLICATE_REFERENCE, "R1"),
        (12, dbs.MISSING_REFERENCE, None),
    ]
    assert response.counts() == {
        "traced": 1, "no_match": 1, "multiple_match": 1, "not_traced": 1,
        "quarantined/duplicate_reference": 1, "quarantined/invalid_code": 1,
        "quarantined/invalid_nhs_number": 2, "quarantined/invalid_number": 1,
        "quarantined/missing_reference": 1, "quarantined/unknown_reference": 1,
    }  # fmt: skip
    # The quarantine keeps where and why, never the number the row held.
    assert set(response.quarantine.columns) == {"line", "reason", "reference"}


def test_a_file_without_the_response_columns_is_refused_by_name() -> None:
    with pytest.raises(ExtractFileError) as err:
        dbs.read_response(
            b"UNIQUE_REFERENCE,MATCHED_NHS_NO\r\nR1," + VALID.encode() + b"\r\n",
            "dbs/dbs_response_2026-10.csv",
            ISSUED,
        )
    assert str(err.value) == (
        "dbs/dbs_response_2026-10.csv: not a DBS response: missing column(s) ERROR_SUCCESS_CODE, "
        "MATCHED_ALGORITHM_INDICATOR, MATCHED_CONFIDENCE_PERCENTAGE"
    )
    assert VALID not in str(err.value)


def test_a_ragged_file_is_refused_without_its_values() -> None:
    raw = _response([("R1", "00", VALID, "100")]) + f"R2,,00,{VALID},3,100,SMITH,EXTRA,MORE\r\n".encode()
    with pytest.raises(ExtractFileError) as err:
        dbs.read_response(raw, "dbs/dbs_response_2026-10.csv", ISSUED)
    assert (
        str(err.value) == "dbs/dbs_response_2026-10.csv: not a DBS response CSV (unreadable or ragged rows)"
    )
