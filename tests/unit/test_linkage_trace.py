"""Unit tests: name/postcode normalisation, pseudo_key stability, the Tracer protocol."""

from __future__ import annotations

from datetime import date

import polars as pl

from linkage import PassResult, build_master, trace
from linkage.keys import name_key, postcode_key, sex_key

MASTER = build_master(
    pl.DataFrame(
        {
            "nhs_number": ["9990000018"],
            "given_name": ["Zoë"],
            "family_name": ["O'Brien-Smith"],
            "date_of_birth": [date(1950, 3, 1)],
            "sex": ["F"],
            "postcode": ["ls1 1aa"],
            "extract_date": [date(2025, 1, 1)],
        }
    )
)


def test_name_normalisation() -> None:
    names = pl.Series(["O'Brien", " Zoë-Ann ", "Núñez", "mc donald", "  ", "--", None])
    out = pl.select(name_key(pl.lit(names))).to_series().to_list()
    assert out == ["OBRIEN", "ZOEANN", "NUNEZ", "MCDONALD", None, None, None]


def test_postcode_and_sex_keys() -> None:
    # The connectors' normaliser, then only well-formed postcodes are keys: 'LS1' (too short) and
    # 'AB1-2CD' (punctuation is not stripped, so it normalises to 'AB1- 2CD') are no evidence.
    values = ["sw1a1aa", " M1  1AE", "LS1", "ab1-2cd", "", None]
    out = pl.select(postcode_key(pl.lit(pl.Series(values, dtype=pl.String))).alias("p"))["p"].to_list()
    assert out == ["SW1A 1AA", "M1 1AE", None, None, None, None]
    sexes = pl.select(sex_key(pl.lit(pl.Series(["m", "2", "9", "x", "Unknown", None]))))
    assert sexes.to_series().to_list() == ["M", "F", None, None, None, None]


def test_keys_accept_columns_that_are_not_strings() -> None:
    nulls = pl.Series([None, None])  # dtype Null, as an all-blank column can arrive
    out = pl.select(postcode_key(pl.lit(nulls)).alias("p"), sex_key(pl.lit(nulls)).alias("s"))
    assert out.to_dict(as_series=False) == {"p": [None, None], "s": [None, None]}


def test_master_normalises_names() -> None:
    assert MASTER.select("given_name", "family_name", "postcode").row(0) == ("ZOE", "OBRIENSMITH", "LS1 1AA")


def test_pseudo_key_is_stable_across_refreshes_and_spellings() -> None:
    cols = ["nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode", "source_file",
            "source_line"]  # fmt: skip
    jan = pl.DataFrame(
        [(None, "Ann", "Lee", date(1970, 1, 2), "F", "xx1 1xx", "apc/apc_2025-01.csv", 5)],
        schema=cols,
        orient="row",
    )
    feb = pl.DataFrame(
        [(None, " ann ", "LEE", date(1970, 1, 2), "2", "XX11XX", "apc/apc_2025-02.csv", 99)],
        schema=cols,
        orient="row",
    )
    key_jan = trace(jan, MASTER, namespace="ecds").frame["pseudo_key"].to_list()
    key_feb = trace(feb, MASTER, namespace="ecds").frame["pseudo_key"].to_list()
    assert key_jan == key_feb == ["ecds:1970-01-02|F|XX1 1XX|ANN|LEE"]


def test_record_with_no_demographics_gets_a_per_record_key() -> None:
    frame = pl.DataFrame(
        {"nhs_number": [None, None], "date_of_birth": [None, None], "source_file": ["f.csv"] * 2,
         "source_line": [2, 3]},
        schema={"nhs_number": pl.String, "date_of_birth": pl.Date, "source_file": pl.String, "source_line": pl.Int64},
    )  # fmt: skip
    keys = trace(frame, MASTER, namespace="csds").frame["pseudo_key"].to_list()
    assert keys == ["csds:row:f.csv:2", "csds:row:f.csv:3"]


def test_a_tracer_protocol_implementation_slots_in() -> None:
    class Fuzzy:
        name = "probabilistic"

        def required_columns(self) -> frozenset[str]:
            return frozenset({"family_name"})

        def match(self, unmatched: pl.DataFrame, master: pl.DataFrame) -> PassResult:
            hits = unmatched.filter(pl.col("family_name").str.starts_with("OBRIEN"))
            return PassResult(
                hits.select(
                    "row_idx", pl.lit("9990000018").alias("nhs_number"), pl.lit(0.8).alias("confidence")
                ),
                ambiguous=0,
            )

    records = pl.DataFrame({"nhs_number": [None, None], "family_name": ["OBrien Smyth", "Jones"]},
                           schema={"nhs_number": pl.String, "family_name": pl.String})  # fmt: skip
    out, stats = trace(records, MASTER, passes=[Fuzzy()], namespace="asc_cld")
    assert out.select("nhs_number", "link_method", "link_confidence").rows() == [
        ("9990000018", "probabilistic", 0.8),
        (None, "unmatched", 0.0),
    ]
    assert out["pseudo_key"].to_list() == [None, "asc_cld:||||JONES"]
    assert stats.rows == {"probabilistic": 1, "unmatched": 1}


def test_no_unmatched_rows_is_cheap_and_complete() -> None:
    frame = pl.DataFrame({"nhs_number": ["9990000018"], "date_of_birth": [date(1950, 3, 1)]})
    out, stats = trace(frame, MASTER, namespace="apc")
    assert out.columns == ["nhs_number", "date_of_birth", "link_method", "link_confidence", "pseudo_key"]
    assert stats.rows == {"nhs_number": 1}
