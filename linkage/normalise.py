"""Normalisation of the demographic fields used as trace keys (identifiable zone).

The same expressions are applied to the GP demographic master and to the records being traced, so a
key only matches when both sides normalise to the same value. Values that normalise to nothing
(blank names, malformed postcodes, sex 'U') become null: a null key never matches anything.
"""

from __future__ import annotations

import polars as pl

_POSTCODE = r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$"
_SEX_CODES = {
    "M": "M",
    "F": "F",
    "U": "U",
    "1": "M",
    "2": "F",
    "0": "U",
    "9": "U",
    "MALE": "M",
    "FEMALE": "F",
}


def name(expr: pl.Expr) -> pl.Expr:
    """Upper case, accents stripped, only A-Z kept: "O'Brien" -> "OBRIEN", " Zoë-Ann " -> "ZOEANN"."""
    cleaned = expr.cast(pl.String).str.normalize("NFKD").str.to_uppercase().str.replace_all(r"[^A-Z]", "")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned).otherwise(None)


def postcode(expr: pl.Expr) -> pl.Expr:
    """Canonical 'AA9A 9AA' form (upper case, one space before the inward code) or null if malformed."""
    compact = expr.cast(pl.String).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return (
        pl.when(compact.str.contains(_POSTCODE)).then(compact.str.replace(_POSTCODE, "$1 $2")).otherwise(None)
    )


def sex(expr: pl.Expr) -> pl.Expr:
    """M, F or U (unknown); 1/2/9 style codes are mapped, anything else is U."""
    return (
        expr.cast(pl.String)
        .str.strip_chars()
        .str.to_uppercase()
        .replace_strict(_SEX_CODES, default="U", return_dtype=pl.String)
    )


def sex_key(expr: pl.Expr) -> pl.Expr:
    """Sex as a match key: unknown sex is no evidence, so 'U' becomes null."""
    s = sex(expr)
    return pl.when(s == "U").then(None).otherwise(s)
