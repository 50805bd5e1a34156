"""The synthetic national tracing service (`synthetic.national_service`) on inline people and requests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl

from linkage.dbs import NO_MATCH_NUMBER, RESPONSE_COLUMNS, SEVERAL_NUMBER
from synthetic.national_service import ServiceErrors, answer_request, respond

# Person 2 and 3 are twins: same birth date, sex and postcode, different given names.
PERSONS = pl.DataFrame(
    {
        "nhs_number": ["9990000018", "9990000026", "9990000034", "9990000042"],
        "given_name": ["Ann", "Bob", "Ben", "Cara"],
        "family_name": ["Smith", "Jones", "Jones", "Khan"],
        "date_of_birth": [date(1950, 3, 1), date(1990, 5, 6), date(1990, 5, 6), date(2001, 1, 2)],
        "sex": ["F", "M", "M", "F"],
        "postcode_start": ["LS1 4AP", "LS2 9JT", "LS2 9JT", "LS6 1AA"],
        "postcode_end": ["LS1 4AP", "LS2 9JT", "LS2 9JT", "LS7 2BB"],  # Cara moved
    }
)
NONE = ServiceErrors(missed=0.0, wrong=0.0)


def _request(rows: list[tuple[str, str, str, str, str, str]]) -> pl.DataFrame:
    """UNIQUE_REFERENCE, FAMILY_NAME, GIVEN_NAME, GENDER, DATE_OF_BIRTH, POSTCODE per row."""
    cols = ("UNIQUE_REFERENCE", "FAMILY_NAME", "GIVEN_NAME", "GENDER", "DATE_OF_BIRTH", "POSTCODE")
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows]).with_columns(NHS_NO=pl.lit(""))


REQUEST = _request(
    [
        ("R1", "SMITH", "ANN", "2", "19500301", "LS1 4AP"),  # exact
        ("R2", "JONES", "BOB", "1", "19900506", "LS9 9ZZ"),  # names + birth date: one person
        ("R3", "JONE", "B", "1", "19900506", "LS2 9JT"),  # only birth date, sex, postcode: the twins
        ("R4", "KHAN", "CARA", "2", "20010102", "LS6 1AA"),  # the postcode she had before moving
        ("R5", "NOBODY", "KNOWN", "1", "19000101", "LS1 1AA"),  # nobody
    ]
)


def test_traces_in_stages_and_never_guesses_between_two_people() -> None:
    out = respond(REQUEST, PERSONS, seed=1, errors=NONE)
    assert out.columns == list(RESPONSE_COLUMNS)
    assert out.rows() == [
        ("R1", "", "00", "9990000018", "3", "100.00"),
        ("R2", "", "00", "9990000026", "3", "95.00"),
        ("R3", "", "97", "9999999999", "0", "0.00"),
        ("R4", "", "00", "9990000042", "3", "100.00"),
        ("R5", "", "98", NO_MATCH_NUMBER, "0", "0.00"),
    ]


def test_makes_the_errors_a_real_trace_makes_at_its_rates() -> None:
    missed = respond(REQUEST, PERSONS, seed=1, errors=ServiceErrors(missed=1.0, wrong=0.0))
    assert missed["ERROR_SUCCESS_CODE"].to_list() == ["98", "98", "97", "98", "98"]
    wrong = respond(REQUEST, PERSONS, seed=1, errors=ServiceErrors(missed=0.0, wrong=1.0))
    right = respond(REQUEST, PERSONS, seed=1, errors=NONE)
    traced = [i for i, code in enumerate(right["ERROR_SUCCESS_CODE"]) if code == "00"]
    # A wrong match still reads as traced, with someone else's (real) number: only truth can tell.
    assert [wrong["ERROR_SUCCESS_CODE"][i] for i in traced] == ["00"] * 3
    assert all(wrong["MATCHED_NHS_NO"][i] != right["MATCHED_NHS_NO"][i] for i in traced)
    assert set(wrong["MATCHED_NHS_NO"].to_list()) - {SEVERAL_NUMBER, NO_MATCH_NUMBER} <= set(
        PERSONS["nhs_number"]
    )


def _truth(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True)
    PERSONS.write_parquet(folder / "persons.parquet")
    (folder / "config.json").write_text(json.dumps({"seed": seed}))
    return folder


def test_same_request_truth_and_seed_give_the_same_bytes(tmp_path: Path) -> None:
    request = tmp_path / "dbs_request_2026-10_2.csv"
    REQUEST.select("UNIQUE_REFERENCE", "NHS_NO", *REQUEST.columns[1:-1]).write_csv(request)
    big = ServiceErrors(missed=0.3, wrong=0.3)
    outs = [
        answer_request(
            request, tmp_path / name / "landing", truth=_truth(tmp_path / name / "truth", seed), errors=big
        )
        for name, seed in (("a", 5), ("b", 5), ("c", 6))
    ]
    assert [p.relative_to(tmp_path).as_posix() for p in outs] == [
        f"{n}/landing/dbs/dbs_response_2026-10_2.csv" for n in "abc"
    ]
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes().startswith(b"UNIQUE_REFERENCE,REQ_NHS_NUMBER,ERROR_SUCCESS_CODE,")
    assert outs[0].read_bytes() != outs[2].read_bytes()  # another seed, other errors
