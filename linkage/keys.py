"""Trace keys: the demographic fields tracing and matching compare, as polars expressions (identifiable).

Postcode and sex are normalised by the connectors' one normaliser (`connectors.normalise`), so a key built
here equals the value the connectors staged. On top of that a key must be evidence: a value that
normalises to nothing usable (blank name, a postcode that fails the connectors' postcode pattern, sex
'U') becomes null, and a null key never matches anything. The same expressions are applied to the GP
demographic master and to the records being traced, so a key only matches when both sides agree.
"""

from __future__ import annotations

import polars as pl

from connectors import normalise as nz
from connectors.spec import PATTERNS


def name_key(expr: pl.Expr) -> pl.Expr:
    """Upper case, accents stripped, only A-Z kept: "O'Brien" -> "OBRIEN", " Zoë-Ann " -> "ZOEANN"."""
    cleaned = expr.cast(pl.String).str.normalize("NFKD").str.to_uppercase().str.replace_all(r"[^A-Z]", "")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned).otherwise(None)


def postcode_key(expr: pl.Expr) -> pl.Expr:
    """The normalised postcode ('AA9A 9AA') when it is well formed, else null ('LS1', 'AB1- 2CD')."""
    normalised = nz.postcode(expr.cast(pl.String))
    return pl.when(normalised.str.contains(PATTERNS["postcode"])).then(normalised).otherwise(None)


def text_postcode_key(expr: pl.Expr) -> pl.Expr:
    """A postcode of another country as a key: upper-case letters and digits only, null when none remain
    (`linkage.matcher.uk_postcodes` decides when a file's postcodes are not UK ones)."""
    s = expr.cast(pl.String).str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(s.str.len_chars() > 0).then(s).otherwise(None)


def sex_key(expr: pl.Expr) -> pl.Expr:
    """Sex as a match key: unknown sex is no evidence, so 'U' becomes null."""
    s = nz.sex(expr.cast(pl.String))
    return pl.when(s == "U").then(None).otherwise(s)
