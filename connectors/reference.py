"""Reference files (practices, LSOA -> IMD, postcode -> LSOA) as typed polars frames.

Reference data holds no patient values, so messages may name lines; but a broken reference file still
stops the load (ExtractFileError), because every downstream join would silently lose rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from connectors import spec
from connectors.errors import ExtractFileError
from connectors.normalise import blank_to_null, code, postcode
from connectors.rawfile import parse_header, read_bytes

#: name -> (path under landing, {feed column: canonical}, key column that must be unique and present)
REFERENCES: Final[dict[str, tuple[str, dict[str, str], str]]] = {
    "practices": (
        "reference/practices.csv",
        {
            "Practice_Code": "practice_code",
            "Practice_Name": "practice_name",
            "PCN_Code": "pcn_code",
            "PCN_Name": "pcn_name",
            "Place": "place",
            "Practice_Postcode": "practice_postcode",
        },
        "practice_code",
    ),
    "lsoa_imd": (
        "reference/lsoa_imd.csv",
        {"LSOA21CD": "lsoa21", "LSOA21NM": "lsoa_name", "IMD_Decile": "imd_decile", "Place": "place"},
        "lsoa21",
    ),
    "postcode_lsoa": (
        "reference/postcode_lsoa.csv",
        {"Postcode": "postcode", "LSOA21CD": "lsoa21"},
        "postcode",
    ),
}
_PATTERNS: Final = {
    "practice_code": spec.PATTERNS["ods_practice"],
    "lsoa21": spec.PATTERNS["lsoa21"],
    "postcode": spec.PATTERNS["postcode"],
}


def _lines_where(frame: pl.DataFrame, bad: pl.Expr) -> str:
    lines = frame.with_row_index("line", offset=2).filter(bad)["line"].head(5).to_list()
    return ", ".join(str(n) for n in lines) + (" ..." if frame.filter(bad).height > 5 else "")


def read_reference(landing: Path, name: str) -> pl.DataFrame:
    """One reference file, typed, with canonical column names.

    ``practices``: practice_code, practice_name, pcn_code, pcn_name, place, practice_postcode.
    ``lsoa_imd``: lsoa21, lsoa_name, imd_decile (Int8, 1 = most deprived), place.
    ``postcode_lsoa``: postcode ('AB1 2CD'), lsoa21.
    Codes are upper-cased; keys must be present, well-formed and unique.
    """
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r}; expected one of {sorted(REFERENCES)}")
    rel, columns, key = REFERENCES[name]
    data = read_bytes(landing / rel, rel)
    parse_header(data, rel, list(columns))
    try:
        frame = pl.read_csv(data, infer_schema=False, quote_char='"')
    except pl.exceptions.PolarsError:
        raise ExtractFileError(rel, "not a well-formed CSV (wrong number of fields on some line)") from None
    frame = frame.select(blank_to_null(pl.col(feed)).alias(canon) for feed, canon in columns.items())
    normalisers = {
        "practice_code": code,
        "pcn_code": code,
        "lsoa21": code,
        "postcode": postcode,
        "practice_postcode": postcode,
    }
    frame = frame.with_columns(fn(pl.col(c)).alias(c) for c, fn in normalisers.items() if c in frame.columns)
    if "imd_decile" in frame.columns:
        decile = pl.col("imd_decile").cast(pl.Int8, strict=False)
        bad = decile.is_null() | ~decile.is_between(1, 10)
        if frame.select(bad.any()).item():
            raise ExtractFileError(
                rel, f"IMD_Decile is not a whole number 1-10 on line(s) {_lines_where(frame, bad)}"
            )
        frame = frame.with_columns(decile)
    bad_key = pl.col(key).is_null() | ~pl.col(key).str.contains(_PATTERNS[key]).fill_null(False)
    if frame.select(bad_key.any()).item():
        raise ExtractFileError(rel, f"{key} missing or malformed on line(s) {_lines_where(frame, bad_key)}")
    dup_key = pl.col(key).is_duplicated()
    if frame.select(dup_key.any()).item():
        raise ExtractFileError(rel, f"{key} repeated on line(s) {_lines_where(frame, dup_key)}")
    return frame
