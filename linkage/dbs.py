"""National batch tracing: the NHS Demographics Batch Service (DBS) request and response files.

Identifiable zone. Records that local tracing could not trace are sent to the national service, which
traces them against the Personal Demographics Service (everyone with an NHS number, whichever practice
they are registered with, sharing or not) and answers each row.

The layout follows NHS England's batch tracing CSV (the layout the DBS CSV client and its successor,
the Master Person Service, use): one header row, then one row per record; ``UNIQUE_REFERENCE`` is ours
and comes back unchanged; dates are ``YYYYMMDD``; ``GENDER`` is 0 not known, 1 male, 2 female, 9 not
specified. The response carries ``ERROR_SUCCESS_CODE`` (00 traced, 90 traced to the current number of a
superseded one, 97 multiple close matches, 98 not found, 91/92/96/15 not traced for another reason),
``MATCHED_NHS_NO`` (ten zeros for no match, ten nines for several), ``MATCHED_ALGORITHM_INDICATOR``
and ``MATCHED_CONFIDENCE_PERCENTAGE``. The reader needs only those five and ``UNIQUE_REFERENCE``;
other response columns (the PDS demographics a live response returns) are ignored, never kept.

Nothing here logs or raises a row value: errors name the file and the problem, and bad response rows
become (line, reason) rows, the NHS number they held left behind.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Final

import polars as pl

from connectors.errors import ExtractFileError
from connectors.normalise import normalise_nhs_series
from linkage.keys import name_key, postcode_key, sex_key

REFERENCE: Final = "reference"
DEMOGRAPHICS: Final[tuple[str, ...]] = ("given_name", "family_name", "date_of_birth", "sex", "postcode")

REQUEST_COLUMNS: Final[tuple[str, ...]] = (
    "UNIQUE_REFERENCE", "NHS_NO", "FAMILY_NAME", "GIVEN_NAME", "OTHER_GIVEN_NAME", "GENDER",
    "DATE_OF_BIRTH", "POSTCODE", "DATE_OF_DEATH", "ADDRESS_LINE1", "ADDRESS_LINE2", "ADDRESS_LINE3",
    "ADDRESS_LINE4", "ADDRESS_LINE5", "ADDRESS_DATE", "GP_PRACTICE_CODE", "NHAIS_POSTING_ID",
    "AS_AT_DATE", "LOCAL_PATIENT_ID", "INTERNAL_ID", "TELEPHONE_NUMBER", "MOBILE_NUMBER",
    "EMAIL_ADDRESS",
)  # fmt: skip
RESPONSE_COLUMNS: Final[tuple[str, ...]] = (
    "UNIQUE_REFERENCE", "REQ_NHS_NUMBER", "ERROR_SUCCESS_CODE", "MATCHED_NHS_NO",
    "MATCHED_ALGORITHM_INDICATOR", "MATCHED_CONFIDENCE_PERCENTAGE",
)  # fmt: skip
_REQUIRED: Final = frozenset(RESPONSE_COLUMNS) - {"REQ_NHS_NUMBER"}
GENDER_CODES: Final[dict[str, str]] = {"M": "1", "F": "2"}  # anything else: 0, not known

# What a response row says about its record.
TRACED: Final = "traced"
NO_MATCH: Final = "no_match"
MULTIPLE_MATCH: Final = "multiple_match"
NOT_TRACED: Final = "not_traced"
OUTCOMES: Final[dict[str, str]] = {
    "00": TRACED, "90": TRACED, "97": MULTIPLE_MATCH, "98": NO_MATCH,
    "91": NOT_TRACED, "92": NOT_TRACED, "96": NOT_TRACED, "15": NOT_TRACED,
}  # fmt: skip
# Ten zeros and ten nines: the service's "no match" and "several" fillers; they pass modulus 11 but name
# nobody. Spelt as repeats so no NHS-number literal outside the synthetic test range sits in the code.
NO_MATCH_NUMBER: Final = "0" * 10
SEVERAL_NUMBER: Final = "9" * 10
PLACEHOLDER_NUMBERS: Final = frozenset({NO_MATCH_NUMBER, SEVERAL_NUMBER})

# Why a response row is quarantined (the first that applies).
MISSING_REFERENCE: Final = "missing_reference"
UNKNOWN_REFERENCE: Final = "unknown_reference"
DUPLICATE_REFERENCE: Final = "duplicate_reference"
INVALID_CODE: Final = "invalid_code"
INVALID_NHS_NUMBER: Final = "invalid_nhs_number"
INVALID_NUMBER: Final = "invalid_number"
QUARANTINE_REASONS: Final[dict[str, str]] = {
    MISSING_REFERENCE: "UNIQUE_REFERENCE is blank.",
    UNKNOWN_REFERENCE: "UNIQUE_REFERENCE was never issued in a request of this installation.",
    DUPLICATE_REFERENCE: "A second row for the same UNIQUE_REFERENCE in one file (the first is used).",
    INVALID_CODE: "ERROR_SUCCESS_CODE is not one of the codes above.",
    INVALID_NHS_NUMBER: (
        "A traced row (00/90) whose MATCHED_NHS_NO is not a valid 10-digit modulus 11 number, or is a "
        "placeholder (ten zeros or ten nines)."
    ),
    INVALID_NUMBER: "MATCHED_CONFIDENCE_PERCENTAGE of a traced row is not a number from 0 to 100.",
}

ANSWER_SCHEMA: Final = {
    REFERENCE: pl.String, "outcome": pl.String, "code": pl.String, "nhs_number": pl.String,
    "confidence": pl.Float64, "line": pl.Int64,
}  # fmt: skip
QUARANTINE_SCHEMA: Final = {"line": pl.Int64, "reason": pl.String, REFERENCE: pl.String}


def references(frame: pl.DataFrame) -> pl.Series:
    """A stable reference per row of demographics: the same description gets the same one in every run.

    ``PHM`` + 20 hex digits of a SHA-256 over the normalised demographics. It travels only with those
    demographics (request file, ledger, response), all in the identifiable zone, so it adds nothing a
    reader of the request does not already hold; it is a lookup key, not a pseudonym.
    """
    keyed = _keys(frame)
    joined = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in DEMOGRAPHICS], separator="|"
    ).alias("k")
    texts = keyed.select(joined)["k"].to_list()
    refs = ["PHM" + hashlib.sha256(t.encode()).hexdigest()[:20].upper() for t in texts]
    return pl.Series(REFERENCE, refs, dtype=pl.String)


def request_frame(records: pl.DataFrame) -> pl.DataFrame:
    """The request rows for ``records`` (``reference`` + demographics), in REQUEST_COLUMNS order."""
    keyed = _keys(records.select(DEMOGRAPHICS)).with_columns(records[REFERENCE])
    blank = {c: pl.lit("", pl.String) for c in REQUEST_COLUMNS}
    values = {
        **blank,
        "UNIQUE_REFERENCE": pl.col(REFERENCE),
        "FAMILY_NAME": pl.col("family_name").fill_null(""),
        "GIVEN_NAME": pl.col("given_name").fill_null(""),
        "GENDER": pl.col("sex").replace_strict(GENDER_CODES, default="0", return_dtype=pl.String),
        "DATE_OF_BIRTH": pl.col("date_of_birth").dt.strftime("%Y%m%d").fill_null(""),
        "POSTCODE": pl.col("postcode").fill_null(""),
    }
    # Spellings that normalise alike share a reference: one request row (and one answer) for them all.
    rows = keyed.select([values[c].alias(c) for c in REQUEST_COLUMNS])
    return rows.unique("UNIQUE_REFERENCE", keep="first").sort("UNIQUE_REFERENCE")


def request_bytes(records: pl.DataFrame) -> bytes:
    """The request file's bytes: header + one CRLF-ended row per record, sorted by reference."""
    buffer = io.BytesIO()
    request_frame(records).write_csv(buffer, line_terminator="\r\n")
    return buffer.getvalue()


@dataclass(frozen=True)
class Response:
    """One response file read: the usable answers and the quarantined rows (line, reason, reference)."""

    answers: pl.DataFrame  # ANSWER_SCHEMA
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA

    def counts(self) -> dict[str, int]:
        """Rows per outcome and quarantined rows per reason."""
        out = {
            o: int((self.answers["outcome"] == o).sum())
            for o in (TRACED, NO_MATCH, MULTIPLE_MATCH, NOT_TRACED)
        }
        for reason, rows in self.quarantine.group_by("reason").len().sort("reason").iter_rows():
            out[f"quarantined/{reason}"] = int(rows)
        return out


def read_response(raw: bytes, file: str, issued: pl.Series) -> Response:
    """Read a DBS response file (``file`` names it in errors); ``issued`` holds every reference we sent.

    Every data row ends up in exactly one place: an answer (traced, no match, multiple match, not
    traced) or the quarantine with its reason. A file that is not a CSV with the response columns is
    refused whole (ExtractFileError): nothing in it can be trusted.
    """
    try:
        frame = pl.read_csv(io.BytesIO(raw), infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
        raise ExtractFileError(file, "not a DBS response CSV (unreadable or ragged rows)") from None
    missing = sorted(_REQUIRED - set(frame.columns))
    if missing:
        raise ExtractFileError(file, f"not a DBS response: missing column(s) {', '.join(missing)}")
    rows = frame.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("line"),  # header is line 1
        pl.col("UNIQUE_REFERENCE").str.strip_chars().alias(REFERENCE),
        pl.col("ERROR_SUCCESS_CODE").str.strip_chars().alias("code"),
        pl.col("MATCHED_NHS_NO").alias("_raw_nhs"),
        pl.col("MATCHED_CONFIDENCE_PERCENTAGE")
        .str.strip_chars()
        .cast(pl.Float64, strict=False)
        .alias("_pct"),
    )
    rows = rows.with_columns(
        normalise_nhs_series(rows["_raw_nhs"].fill_null("")).alias("nhs_number"),
        pl.col("code").replace_strict(OUTCOMES, default=None, return_dtype=pl.String).alias("outcome"),
    )
    traced = pl.col("outcome") == TRACED
    reason = (
        pl.when(pl.col(REFERENCE).fill_null("") == "").then(pl.lit(MISSING_REFERENCE))
        .when(~pl.col(REFERENCE).is_in(issued.implode())).then(pl.lit(UNKNOWN_REFERENCE))
        .when(pl.col("line") != pl.col("line").min().over(REFERENCE)).then(pl.lit(DUPLICATE_REFERENCE))
        .when(pl.col("outcome").is_null()).then(pl.lit(INVALID_CODE))
        .when(traced & (pl.col("nhs_number").is_null() | pl.col("nhs_number").is_in(list(PLACEHOLDER_NUMBERS))))
        .then(pl.lit(INVALID_NHS_NUMBER))
        .when(traced & ~pl.col("_pct").is_between(0, 100).fill_null(False)).then(pl.lit(INVALID_NUMBER))
    )  # fmt: skip
    rows = rows.with_columns(reason.alias("reason"))
    answers = rows.filter(pl.col("reason").is_null()).select(
        REFERENCE,
        "outcome",
        "code",
        pl.when(traced).then(pl.col("nhs_number")).alias("nhs_number"),
        pl.when(traced).then((pl.col("_pct") / 100).round(4)).alias("confidence"),
        "line",
    )
    quarantine = rows.filter(pl.col("reason").is_not_null()).select("line", "reason", REFERENCE)
    return Response(answers.cast(ANSWER_SCHEMA), quarantine.cast(QUARANTINE_SCHEMA))  # type: ignore[arg-type]


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    """The demographics as trace keys: names A-Z upper case, postcode normalised, sex M/F or null."""
    return frame.select(
        name_key(pl.col("given_name")).alias("given_name"),
        name_key(pl.col("family_name")).alias("family_name"),
        pl.col("date_of_birth").cast(pl.Date),
        sex_key(pl.col("sex")).alias("sex"),
        postcode_key(pl.col("postcode")).alias("postcode"),
    )
