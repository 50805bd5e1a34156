"""The synthetic national tracing service: answers a DBS trace request the way the real one would.

It knows every synthetic person (truth/persons.parquet), wherever they are registered: people at
non-sharing practices, whom the ICS's own GP master never sees, are found here. Like the Personal
Demographics Service it traces in stages, most specific first, and a stage that points to more than
one person answers "multiple close matches" (97) rather than guessing; a request no stage finds is
"not found" (98). On top of that it makes the errors a real trace makes, at seeded rates: a traced
record now and then missed (98) and a small share answered with the wrong person's number.

Only the demo set-up (`phm/demo.py`) and the benchmarks call it; the product never imports it.
Same request, truth and seed -> the same response bytes.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from connectors.landing import DBS_FOLDER
from core.files import write_public
from linkage.dbs import NO_MATCH_NUMBER, RESPONSE_COLUMNS, SEVERAL_NUMBER
from linkage.keys import name_key, postcode_key

# (keys, MATCHED_ALGORITHM_INDICATOR, MATCHED_CONFIDENCE_PERCENTAGE): 3 alphanumeric, 4 algorithmic.
STAGES: tuple[tuple[tuple[str, ...], int, float], ...] = (
    (("family_name", "given_name", "date_of_birth", "postcode"), 3, 100.0),
    (("family_name", "given_name", "date_of_birth"), 3, 95.0),
    (("date_of_birth", "sex", "postcode"), 4, 85.0),
    (("family_name", "date_of_birth", "sex"), 4, 75.0),
)


@dataclass(frozen=True)
class ServiceErrors:
    """Rates of the national service's own mistakes, among the records it would have traced."""

    missed: float = 0.02  # answered 98, not found
    wrong: float = 0.005  # answered 00 with another person's NHS number


def answer_request(
    request: Path, landing: Path, *, truth: Path, errors: ServiceErrors = ServiceErrors()
) -> Path:
    """Answer ``request`` (``dbs_request_<stem>.csv``) into ``landing/dbs/dbs_response_<stem>.csv``.

    The seed is the generator's (truth/config.json), so the demo's answers are as reproducible as its data.
    """
    stem = request.name.removeprefix("dbs_request_").removesuffix(".csv")
    seed = int(json.loads((truth / "config.json").read_text()).get("seed", 0))
    persons = pl.read_parquet(
        truth / "persons.parquet",
        columns=[
            "nhs_number",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "postcode_start",
            "postcode_end",
        ],
    )
    answers = respond(pl.read_csv(request, infer_schema=False), persons, seed=seed, errors=errors)
    buffer = io.BytesIO()
    answers.write_csv(buffer, line_terminator="\r\n")
    return write_public(landing / DBS_FOLDER / f"dbs_response_{stem}.csv", buffer.getvalue())


def respond(
    request: pl.DataFrame, persons: pl.DataFrame, *, seed: int, errors: ServiceErrors = ServiceErrors()
) -> pl.DataFrame:
    """The response rows (RESPONSE_COLUMNS, all strings) for the request rows, in request order."""
    asked = request.select(
        pl.col("UNIQUE_REFERENCE"),
        pl.col("NHS_NO").fill_null("").alias("REQ_NHS_NUMBER"),
        name_key(pl.col("FAMILY_NAME")).alias("family_name"),
        name_key(pl.col("GIVEN_NAME")).alias("given_name"),
        pl.col("DATE_OF_BIRTH").str.strptime(pl.Date, "%Y%m%d", strict=False).alias("date_of_birth"),
        pl.col("GENDER")
        .replace_strict({"1": "M", "2": "F"}, default=None, return_dtype=pl.String)
        .alias("sex"),
        postcode_key(pl.col("POSTCODE")).alias("postcode"),
    ).with_row_index("_row")
    index = _index(persons)
    found: list[pl.DataFrame] = []
    open_rows = asked
    for keys, algorithm, confidence in STAGES:
        hits = (
            open_rows.drop_nulls(list(keys))
            .join(index.select(*keys, "nhs_number").unique(), on=list(keys), how="inner")
            .group_by("_row")
            .agg(pl.col("nhs_number").n_unique().alias("_n"), pl.col("nhs_number").min())
        )
        found.append(
            hits.select(
                "_row",
                pl.when(pl.col("_n") == 1)
                .then(pl.lit("00"))
                .otherwise(pl.lit("97"))
                .alias("ERROR_SUCCESS_CODE"),
                pl.when(pl.col("_n") == 1)
                .then(pl.col("nhs_number"))
                .otherwise(pl.lit(SEVERAL_NUMBER))
                .alias("MATCHED_NHS_NO"),
                pl.when(pl.col("_n") == 1).then(pl.lit(algorithm)).otherwise(pl.lit(0)).alias("_algorithm"),
                pl.when(pl.col("_n") == 1).then(pl.lit(confidence)).otherwise(pl.lit(0.0)).alias("_pct"),
            )  # fmt: skip
        )
        open_rows = open_rows.join(hits.select("_row"), on="_row", how="anti")
    traced = asked.select("_row").join(pl.concat(found), on="_row", how="left").sort("_row")
    traced = traced.with_columns(
        pl.col("ERROR_SUCCESS_CODE").fill_null("98"),
        pl.col("MATCHED_NHS_NO").fill_null(NO_MATCH_NUMBER),
        pl.col("_algorithm").fill_null(0),
        pl.col("_pct").fill_null(0.0),
    )
    traced = _with_errors(traced, persons["nhs_number"], seed, errors)
    return (
        asked.select("_row", "UNIQUE_REFERENCE", "REQ_NHS_NUMBER")
        .join(traced, on="_row")
        .sort("_row")
        .select(
            *[
                c
                for c in RESPONSE_COLUMNS
                if c not in ("MATCHED_ALGORITHM_INDICATOR", "MATCHED_CONFIDENCE_PERCENTAGE")
            ],
            pl.col("_algorithm").cast(pl.String).alias("MATCHED_ALGORITHM_INDICATOR"),
            # Whole percentages, written as the service writes them ("100.00").
            (pl.col("_pct").round(0).cast(pl.Int64).cast(pl.String) + ".00").alias(
                "MATCHED_CONFIDENCE_PERCENTAGE"
            ),
        )
    )


def _index(persons: pl.DataFrame) -> pl.DataFrame:
    """Every person under every postcode they had in the period, as trace keys."""
    base = persons.select(
        pl.col("nhs_number").cast(pl.String),
        name_key(pl.col("family_name")).alias("family_name"),
        name_key(pl.col("given_name")).alias("given_name"),
        pl.col("date_of_birth"),
        pl.col("sex"),
        pl.col("postcode_start"),
        pl.col("postcode_end"),
    )
    people = ["nhs_number", "family_name", "given_name", "date_of_birth", "sex"]
    per_postcode = [
        base.select(*people, postcode_key(pl.col(c)).alias("postcode"))
        for c in ("postcode_start", "postcode_end")
    ]
    return pl.concat(per_postcode).unique(maintain_order=True)


def _with_errors(answers: pl.DataFrame, numbers: pl.Series, seed: int, errors: ServiceErrors) -> pl.DataFrame:
    """Turn a seeded share of traced answers into misses (98) and wrong people (00, another number)."""
    rng = np.random.default_rng(seed)
    draw = rng.random(answers.height)
    # Someone else: a seeded step of 1..n-1 along the (unique) numbers from the right person's place.
    known = numbers.cast(pl.String).unique().sort()
    place = answers.select(
        pl.col("MATCHED_NHS_NO").replace_strict(known, pl.int_range(known.len()), default=0)
    )
    step = rng.integers(1, max(known.len(), 2), answers.height)
    other = known.gather((place.to_series().to_numpy() + step) % known.len())
    traced = answers["ERROR_SUCCESS_CODE"] == "00"
    missed = traced & pl.Series(draw < errors.missed)
    wrong = traced & pl.Series((draw >= errors.missed) & (draw < errors.missed + errors.wrong))
    return answers.with_columns(
        pl.when(missed).then(pl.lit("98")).otherwise(pl.col("ERROR_SUCCESS_CODE")).alias("ERROR_SUCCESS_CODE"),
        pl.when(missed).then(pl.lit(NO_MATCH_NUMBER)).when(wrong).then(other).otherwise(pl.col("MATCHED_NHS_NO"))
        .alias("MATCHED_NHS_NO"),
        pl.when(missed).then(0).otherwise(pl.col("_algorithm")).alias("_algorithm"),
        pl.when(missed).then(0.0).otherwise(pl.col("_pct")).alias("_pct"),
    )  # fmt: skip
