"""Normalise, type and check the well-formed rows of one extract, driven by ``connectors.spec``.

Produces the canonical typed columns plus a ``__reason`` column: null for a row that passes, else the
first quarantine reason that applies (order in ``connectors.reasons.QUARANTINE_REASONS``).
"""

from __future__ import annotations

from datetime import date
from functools import reduce

import polars as pl

from connectors import normalise as nz
from connectors import reasons as rs
from connectors.columns import NUMERIC_ID_PATTERNS
from connectors.rawfile import CTRL, HASH, LINE, WS
from connectors.sources import SourceRules
from connectors.spec import PATTERNS, Column, Extract

REASON = "__reason"
# Patterns whose passing values hold no letter (digits and punctuation only): upper-casing cannot change
# a value that passes, nor whether it passes (no letter upper-cases to a digit), so it is skipped there
# (measured: 5 ms a column on a 138,000-row GP events month).
_NO_LETTERS = frozenset({"snomed", "dmd", "time_hhmm"})
_DTYPES: dict[str, type[pl.DataType]] = {"int": pl.Int64, "float": pl.Float64, "date": pl.Date}


def _any(flags: list[pl.Expr]) -> pl.Expr:
    return reduce(lambda a, b: a | b, flags) if flags else pl.lit(False)


def _normalised(c: Column) -> pl.Expr:
    """The string normalisation for one column (already trimmed, blank -> null)."""
    col = pl.col(c.canonical)
    if c.canonical == "sex":
        return nz.sex(col)
    if c.pattern == "postcode":
        return nz.postcode(col)
    if c.pattern is not None and c.pattern != "nhs_number" and c.pattern not in _NO_LETTERS:
        return col.str.to_uppercase()  # already trimmed
    return col


def _parsed(c: Column, date_format: str) -> pl.Expr:
    col = pl.col(c.canonical)
    if c.dtype == "date":
        return col.str.strptime(pl.Date, date_format, strict=False, exact=True)
    return col.cast(_DTYPES[c.dtype], strict=False)


def _length(c: Column) -> pl.Expr:
    """A value's length against ``max_length``: bytes (O(1)) unless free text, where names may be non-ASCII."""
    col = pl.col(c.canonical)
    return col.str.len_chars() if c.free_text else col.str.len_bytes()


def _columns_to_trim(fields: pl.DataFrame, names: list[str]) -> set[str]:
    """Columns where some value has leading/trailing whitespace.

    Trimming every column costs more than the rest of the checks together, and stray whitespace is
    rare: one regex over the raw lines (``WS``, from rawfile) finds the few rows that might need it,
    and only the columns those rows implicate are trimmed (in full).
    """
    suspect = fields[WS]
    if not suspect.any():
        return set()
    sub = fields.filter(suspect)
    flags = sub.select(pl.col(n).str.contains(r"^\s|\s$").any().alias(n) for n in names)
    return {n for n in names if flags[n][0]}


def check_rows(
    fields: pl.DataFrame, extract: Extract, rules: SourceRules, *, latest: date | None
) -> pl.DataFrame:
    """Typed canonical columns + ``nhs_number_status`` + ``__line`` + ``__hash`` + ``__reason``.

    ``latest`` is the last acceptable activity date (end of the file's month, or the as-of date if
    earlier); None disables the future-date check.
    """
    cols = extract.columns
    has_nhs = any(c.canonical == "nhs_number" for c in cols)
    # Lazy and staged: each with_columns computes its columns once (eager nested expressions do not).
    trim = _columns_to_trim(fields, [c.name for c in cols])
    frame = fields.lazy().select(
        *(
            (nz.blank_to_null(pl.col(c.name)) if c.name in trim else pl.col(c.name)).alias(c.canonical)
            for c in cols
        ),
        LINE,
        HASH,
        CTRL,
    )
    missing = _any([pl.col(c.canonical).is_null() for c in cols if c.required])
    too_long = _any([_length(c) > c.max_length for c in cols])
    typed_cols = [c for c in cols if c.dtype != "str"]
    frame = frame.with_columns(
        missing.alias("__missing"),
        too_long.fill_null(False).alias("__too_long"),
        *(_normalised(c).alias(c.canonical) for c in cols if c.canonical != "nhs_number"),
        *(_parsed(c, extract.date_format).alias(f"__t_{c.canonical}") for c in typed_cols),
    )
    if has_nhs:
        frame = nz.with_nhs_number(frame)

    def typed(name: str) -> pl.Expr:
        return pl.col(f"__t_{name}")

    bad_date = _any(
        [pl.col(c.canonical).is_not_null() & typed(c.canonical).is_null() for c in cols if c.dtype == "date"]
    )
    bad_number = _any(
        [
            pl.col(c.canonical).is_not_null() & typed(c.canonical).is_null()
            for c in cols
            if c.dtype in ("int", "float")
        ]
        + [~typed(c.canonical).is_between(*c.bounds) for c in cols if c.bounds is not None]
    )
    bad_code = _any(
        [
            pl.col(c.canonical).is_not_null() & ~pl.col(c.canonical).str.contains(PATTERNS[c.pattern])
            for c in cols
            if c.pattern is not None and c.pattern != "nhs_number"
        ]
        + [
            pl.col(c.canonical).is_not_null()
            & ~pl.col(c.canonical)
            .str.to_uppercase()
            .is_in(pl.Series(sorted(x.upper() for x in c.codes)).implode())
            for c in cols
            if c.codes is not None
        ]
    )
    # Only a value of ten bytes can be ten digits: the rest skip the check (null, read as "no").
    identifier = _any(
        [
            nz.nhs_is_valid(pl.when(pl.col(c.canonical).str.len_bytes() == 10).then(pl.col(c.canonical)))
            for c in cols
            if c.pattern in NUMERIC_ID_PATTERNS
        ]
    )
    required_nhs = any(c.canonical == "nhs_number" and c.required for c in cols)
    bad_nhs = (pl.col("nhs_number_status") == nz.NHS_INVALID) if required_nhs else pl.lit(False)
    # A date of birth after the extract's month is as impossible as an activity in the future.
    future_cols = [extract.activity_date] + [c.canonical for c in cols if c.canonical == "date_of_birth"]
    future = _any([typed(c) > pl.lit(latest) for c in future_cols]) if latest is not None else pl.lit(False)
    end_before = _any([typed(end) < typed(start) for start, end in rules.end_after_start])
    reason = (
        pl.when(pl.col(CTRL))
        .then(pl.lit(rs.CONTROL_CHARACTER))
        .when(pl.col("__too_long"))
        .then(pl.lit(rs.VALUE_TOO_LONG))
        .when(pl.col("__missing"))
        .then(pl.lit(rs.MISSING_REQUIRED))
        .when(bad_nhs)
        .then(pl.lit(rs.INVALID_NHS_NUMBER))
        .when(identifier.fill_null(False))
        .then(pl.lit(rs.IDENTIFIER_IN_FIELD))
        .when(bad_date)
        .then(pl.lit(rs.INVALID_DATE))
        .when(bad_code)
        .then(pl.lit(rs.INVALID_CODE))
        .when(bad_number.fill_null(False))
        .then(pl.lit(rs.INVALID_NUMBER))
        .when(future.fill_null(False))
        .then(pl.lit(rs.FUTURE_DATE))
        .when(end_before.fill_null(False))
        .then(pl.lit(rs.END_BEFORE_START))
        .otherwise(None)
    )
    status = ["nhs_number_status"] if has_nhs else []
    return (
        frame.with_columns(reason.alias(REASON))
        .select(
            *(
                (typed(c.canonical) if c.dtype != "str" else pl.col(c.canonical)).alias(c.canonical)
                for c in cols
            ),
            *status,
            LINE,
            HASH,
            REASON,
        )
        .collect()
    )
