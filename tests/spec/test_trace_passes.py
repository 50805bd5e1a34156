"""Spec: how a record without an NHS number is traced against the GP demographic master.

Each test writes the master and the records inline, with the expected outcome beside each record.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from linkage import TracePass, build_master, trace

D1 = date(1950, 3, 1)
D2 = date(1980, 7, 15)

# nhs_number, given, family, dob, sex, postcode, extract_date, source_line
GP_ROWS = [
    ("9990000018", "Mary", "O'Brien", D1, "F", "LS1 1AA", date(2025, 1, 1), 2),
    ("9990000026", "John", "Smith", D2, "M", "LS2 2BB", date(2025, 1, 1), 3),
    # Two John Smiths born the same day at different addresses: name+DOB alone is ambiguous.
    ("9990000034", "John", "Smith", D2, "M", "LS3 3CC", date(2025, 1, 1), 4),
    # Mary moves house in February: her old postcode must still trace.
    ("9990000018", "Mary", "O'Brien", D1, "F", "LS9 9ZZ", date(2025, 2, 1), 2),
]


@pytest.fixture
def master() -> pl.DataFrame:
    cols = ["nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode", "extract_date",
            "source_line"]  # fmt: skip
    return build_master(pl.DataFrame(GP_ROWS, schema=cols, orient="row"))


def _records(rows: list[tuple], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=columns, orient="row")


def test_master_keeps_latest_row_and_every_postcode(master: pl.DataFrame) -> None:
    mary = master.filter(pl.col("nhs_number") == "9990000018").row(0, named=True)
    assert master.height == 3
    assert (mary["given_name"], mary["family_name"], mary["postcode"]) == ("MARY", "OBRIEN", "LS9 9ZZ")
    assert mary["postcode_history"] == ["LS1 1AA", "LS9 9ZZ"]


def test_each_pass_in_order_unique_only(master: pl.DataFrame) -> None:
    cols = ["nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode"]
    records = _records(
        [
            ("9990000042", "x", "y", D1, "F", "ZZ1 1ZZ"),  # valid number: kept, 1.0
            (None, "mary", "o brien", D1, "F", "ls99zz"),  # pass 1 (current postcode, messy spelling)
            (None, "Mary", "O'BRIEN", D1, None, "LS1 1AA"),  # pass 1 via the stale postcode
            (None, "John", "Smith", D2, "M", "LS2 2BB"),  # pass 1: postcode separates the two Johns
            (None, "John", "Smith", D2, "M", "XX1 1XX"),  # ambiguous in 1-3: unmatched
            (None, "Marie", "O'Brien", D1, "F", "LS1 1AA"),  # misspelt: pass 3 (DOB+sex+old postcode)
            (None, "Mary", "O'Brien", D1, "F", "XX1 1XX"),  # pass 2 (name+DOB unique)
        ],
        cols,
    )
    out, stats = trace(records, master, namespace="ecds")
    assert out.select("nhs_number", "link_method", "link_confidence").rows() == [
        ("9990000042", "nhs_number", 1.0),
        ("9990000018", "exact_name_dob_postcode", 0.99),
        ("9990000018", "exact_name_dob_postcode", 0.99),
        ("9990000026", "exact_name_dob_postcode", 0.99),
        (None, "unmatched", 0.0),
        ("9990000018", "exact_dob_sex_postcode", 0.9),
        ("9990000018", "exact_name_dob", 0.95),
    ]
    assert out["pseudo_key"].to_list() == [None] * 4 + ["ecds:1980-07-15|M|XX1 1XX|JOHN|SMITH", None, None]
    assert stats.rows == {"nhs_number": 1, "exact_name_dob_postcode": 3, "exact_name_dob": 1,
                          "exact_dob_sex_postcode": 1, "unmatched": 1}  # fmt: skip
    # The two-Johns record hits an ambiguous key in pass 2 and pass 3 (both Johns are M, same DOB,
    # but XX1 1XX matches neither, so pass 3 finds nothing for it).
    assert stats.ambiguous == {"exact_name_dob_postcode": 0, "exact_name_dob": 1, "exact_dob_sex_postcode": 0}
    assert stats.skipped == ()


def test_ambiguous_dob_sex_postcode_is_not_matched() -> None:
    twins = build_master(
        pl.DataFrame(
            {
                "nhs_number": ["9990000018", "9990000026"],
                "date_of_birth": [D2, D2],
                "sex": ["M", "M"],
                "postcode": ["LS2 2BB", "LS2 2BB"],
                "extract_date": [date(2025, 1, 1)] * 2,
            }
        )
    )
    records = _records([(None, D2, "M", "LS2 2BB")], ["nhs_number", "date_of_birth", "sex", "postcode"])
    out, stats = trace(records, twins, namespace="apc")
    assert out["link_method"].to_list() == ["unmatched"]
    assert stats.ambiguous["exact_dob_sex_postcode"] == 1


def test_passes_needing_absent_columns_are_skipped(master: pl.DataFrame) -> None:
    # APC carries no names: only the DOB + sex + postcode pass can run.
    records = _records([(None, D1, "F", "LS1 1AA")], ["nhs_number", "date_of_birth", "sex", "postcode"])
    out, stats = trace(records, master, namespace="apc")
    assert out.row(0, named=True) | {} == {
        "nhs_number": "9990000018",
        "date_of_birth": D1,
        "sex": "F",
        "postcode": "LS1 1AA",
        "link_method": "exact_dob_sex_postcode",
        "link_confidence": 0.9,
        "pseudo_key": None,
    }
    assert stats.skipped == ("exact_name_dob_postcode", "exact_name_dob")


def test_unknown_sex_is_never_a_key(master: pl.DataFrame) -> None:
    records = _records([(None, D1, "U", "LS1 1AA")], ["nhs_number", "date_of_birth", "sex", "postcode"])
    out, _ = trace(records, master, namespace="apc")
    assert out["link_method"].to_list() == ["unmatched"]


def test_custom_passes_are_data(master: pl.DataFrame) -> None:
    dob_only = TracePass("exact_dob", ("date_of_birth",), 0.5)
    records = _records([(None, D1), (None, D2)], ["nhs_number", "date_of_birth"])
    out, stats = trace(records, master, passes=[dob_only], namespace="x")
    assert out["link_method"].to_list() == ["exact_dob", "unmatched"]
    assert stats.ambiguous == {"exact_dob": 1}


def test_asc_unmatched_rows_keyed_on_council_id(master: pl.DataFrame) -> None:
    cols = ["la_person_id", "nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode"]
    records = _records(
        [
            ("LA-17", None, "Zed", "Nobody", D2, "M", "XX1 1XX"),
            ("LA-17", None, "Zed", "Nobody", D2, "M", "XX2 2XX"),  # moved: same council id, same key
            (" ", None, "Zed", "Nobody", D2, "M", "XX2 2XX"),  # blank council id: demographic key
        ],
        cols,
    )
    out, _ = trace(records, master, namespace="asc_cld")
    assert out["pseudo_key"].to_list() == [
        "asc_cld:LA-17",
        "asc_cld:LA-17",
        "asc_cld:1980-07-15|M|XX2 2XX|ZED|NOBODY",
    ]
