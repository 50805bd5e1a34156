"""apply_trace: each row's NHS number, link method and confidence from inline records and trace results.

The trace is joined for the rows without a number only; a row that carries a number keeps it even when
its demographics match a traced description (tracing never overrides a number the source sent).
"""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl

from load.pseudonymise import apply_trace
from load.trace import TRACE_SCHEMA
from pseudonymisation import Key, Tokeniser

TOKENISER = Tokeniser(Key("token", 1, hashlib.sha256(b"phm-test-apply-trace").digest()), domain="warehouse")
ANN = {"given_name": "Ann", "family_name": "Lee", "date_of_birth": date(1970, 1, 2), "sex": "F",
       "postcode": "LS1 4AP", "address": None}  # fmt: skip
BOB = {**ANN, "given_name": "Bob", "sex": "M"}
CY = {**ANN, "given_name": "Cy", "postcode": None}  # no postcode: the join matches nulls to nulls
DEE = {**ANN, "given_name": "Dee"}  # traced, but tracing found nobody


def _records(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {**TRACE_SCHEMA, "nhs_number": pl.String, "event_id": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _traced() -> pl.DataFrame:
    schema = {
        **TRACE_SCHEMA,
        "nhs_number": pl.String,
        "link_method": pl.String,
        "link_confidence": pl.Float64,
    }
    return pl.DataFrame(
        [
            {**ANN, "nhs_number": "9990000018", "link_method": "exact_name_dob", "link_confidence": 0.99},
            {**CY, "nhs_number": "9990000026", "link_method": "probabilistic", "link_confidence": 0.91},
            {**DEE, "nhs_number": None, "link_method": "unmatched", "link_confidence": None},
        ],
        schema=schema,
    )


def test_numbers_methods_and_confidence_per_row_in_row_order() -> None:
    records = _records(
        [
            {**ANN, "nhs_number": "9990000034", "event_id": "e1"},  # own number wins over the trace
            {**ANN, "nhs_number": None, "event_id": "e2"},
            {**BOB, "nhs_number": None, "event_id": "e3"},  # not in the trace results at all
            {**CY, "nhs_number": None, "event_id": "e4"},
            {**DEE, "nhs_number": None, "event_id": "e5"},
            {**ANN, "nhs_number": None, "event_id": "e6"},
        ]
    )
    out = apply_trace(records, _traced(), TOKENISER, "ecds")
    assert out.height == 6
    assert out.select("event_id", "nhs_number", "link_method", "link_confidence").rows() == [
        ("e1", "9990000034", "nhs_number", 1.0),
        ("e2", "9990000018", "exact_name_dob", 0.99),
        ("e3", None, "unmatched", 0.0),
        ("e4", "9990000026", "probabilistic", 0.91),
        ("e5", None, "unmatched", 0.0),
        ("e6", "9990000018", "exact_name_dob", 0.99),
    ]
    pseudo = out.get_column("pseudo_id")
    # Only the rows still without a number get a pseudo-ID (the per-source key: no clusters given).
    assert [p is not None for p in pseudo] == [False, False, True, False, True, False]
    assert all(p.startswith("U1-") for p in pseudo.drop_nulls())
    assert pseudo[2] != pseudo[4]  # Bob and Dee are different people


def test_a_file_whose_rows_all_carry_a_number_is_left_as_it_is() -> None:
    records = _records([{**ANN, "nhs_number": "9990000034", "event_id": "e1"}])
    out = apply_trace(records, _traced(), TOKENISER, "ecds")
    assert out.select("nhs_number", "link_method", "link_confidence", "pseudo_id").rows() == [
        ("9990000034", "nhs_number", 1.0, None)
    ]
