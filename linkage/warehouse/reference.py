"""Reference tables: practices (ODS, PCN, place, sharing), LSOA -> IMD, codelists, ethnic categories.

Reference CSVs are small and not patient data; they are read with polars (all text) and handed to
DuckDB as registered frames, so no file content is ever formatted into SQL.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from connectors.spec import ETHNIC_CATEGORIES, ETHNIC_GROUPS

_PRACTICE = {"Practice_Code": "practice_code", "Practice_Name": "practice_name", "PCN_Code": "pcn_code",
             "PCN_Name": "pcn_name", "Place": "place"}  # fmt: skip
_LSOA = {"LSOA21CD": "lsoa21", "LSOA21NM": "lsoa_name", "IMD_Decile": "imd_decile", "Place": "place"}

_DDL = """
CREATE TABLE ref_practice (practice_code VARCHAR, practice_name VARCHAR, pcn_code VARCHAR,
                           pcn_name VARCHAR, place VARCHAR, shares_gp_data BOOLEAN);
CREATE TABLE ref_lsoa (lsoa21 VARCHAR, lsoa_name VARCHAR, imd_decile INTEGER, place VARCHAR);
CREATE TABLE ref_codelist (codelist VARCHAR, code VARCHAR, term VARCHAR);
CREATE TABLE ref_ethnic_category (ethnic_category VARCHAR, description VARCHAR, ethnic_group VARCHAR);
"""

# Sharing status: the non-sharing register when there is one; otherwise what the staged records say.
_SHARING_FROM_REGISTER = """
UPDATE ref_practice SET shares_gp_data = practice_code NOT IN (SELECT practice_code FROM _non_sharing)
"""
_SHARING_FROM_RECORDS = """
UPDATE ref_practice SET shares_gp_data = ev.shares
FROM (
    SELECT practice_code, bool_or(practice_shares_gp_data) AS shares
    FROM (
        SELECT practice_code, practice_shares_gp_data FROM stg_apc UNION ALL
        SELECT practice_code, practice_shares_gp_data FROM stg_ecds UNION ALL
        SELECT practice_code, practice_shares_gp_data FROM stg_outpatients UNION ALL
        SELECT practice_code, practice_shares_gp_data FROM stg_csds UNION ALL
        SELECT practice_code, practice_shares_gp_data FROM stg_mhsds UNION ALL
        SELECT practice_code, true FROM stg_gp_patients
    )
    WHERE practice_code IS NOT NULL
    GROUP BY practice_code
) AS ev
WHERE ref_practice.practice_code = ev.practice_code
"""


def load_reference(
    con: duckdb.DuckDBPyConnection,
    reference_dir: Path,
    codelists_dir: Path | None,
    non_sharing_practices: Path | None,
) -> None:
    """Create and fill the ref_* tables (empty, with their schema, when a file is absent)."""
    con.execute(_DDL)
    _insert(con, "ref_practice", _read(reference_dir / "practices.csv", _PRACTICE))
    lsoa = _read(reference_dir / "lsoa_imd.csv", _LSOA)
    if lsoa is not None:
        lsoa = lsoa.with_columns(pl.col("imd_decile").str.strip_chars().cast(pl.Int32, strict=False))
    _insert(con, "ref_lsoa", lsoa)
    _insert(con, "ref_codelist", _codelists(codelists_dir))
    ethnic = pl.DataFrame(
        {
            "ethnic_category": list(ETHNIC_CATEGORIES),
            "description": list(ETHNIC_CATEGORIES.values()),
            "ethnic_group": [ETHNIC_GROUPS[c] for c in ETHNIC_CATEGORIES],
        }
    )
    _insert(con, "ref_ethnic_category", ethnic)

    register = (
        _read(non_sharing_practices, {"Practice_Code": "practice_code"}) if non_sharing_practices else None
    )
    if register is not None:
        con.register("_non_sharing", register)
        con.execute(_SHARING_FROM_REGISTER)
        con.unregister("_non_sharing")
    else:
        con.execute(_SHARING_FROM_RECORDS)


def _read(path: Path | None, columns: dict[str, str]) -> pl.DataFrame | None:
    if path is None or not path.is_file():
        return None
    frame = pl.read_csv(path, infer_schema=False)
    present = {k: v for k, v in columns.items() if k in frame.columns}
    return frame.select(pl.col(k).str.strip_chars().alias(v) for k, v in present.items())


def _codelists(codelists_dir: Path | None) -> pl.DataFrame | None:
    """OpenCodelists-style CSVs: codelist = file stem; `code` (else the first column) and `term`."""
    if codelists_dir is None:
        return None
    frames = []
    for path in sorted(codelists_dir.glob("*.csv")):
        frame = pl.read_csv(path, infer_schema=False)
        lower = {c.lower(): c for c in frame.columns}
        code = lower.get("code", frame.columns[0])
        term = lower.get("term") or lower.get("description")
        frames.append(
            frame.select(
                pl.lit(path.stem).alias("codelist"),
                pl.col(code).str.strip_chars().alias("code"),
                (pl.col(term) if term else pl.lit(None, pl.String)).alias("term"),
            )
        )
    return pl.concat(frames) if frames else None


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame | None) -> None:
    """Insert a frame BY NAME into a table from the fixed list above (missing columns stay null)."""
    if frame is None or frame.height == 0:
        return
    con.register("_ref_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ref_frame")  # noqa: S608 (fixed table names)
    finally:
        con.unregister("_ref_frame")
