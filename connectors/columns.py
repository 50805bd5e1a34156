"""The vocabulary extracts are written in: column and extract types, code patterns, column builders.

`connectors.spec` is the catalogue built from these; the extract definitions (`extracts_gp`,
`extracts_hospital`, `extracts_community`) use the builders so each column reads as one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DType = Literal["str", "date", "int", "float"]

# Patterns for code conformance (used by connectors for normalisation and by quality/ for checks).
PATTERNS: dict[str, str] = {
    "nhs_number": r"^\d{10}$",
    "ods_practice": r"^[A-Z]\d{5}$",
    "ods_provider": r"^[A-Z0-9]{3,5}$",
    "snomed": r"^\d{6,18}$",
    "dmd": r"^\d{6,18}$",
    "icd10": r"^[A-Z]\d{2}[0-9X]?$",
    "opcs4": r"^[A-Z]\d{2}\d?$",
    "lsoa21": r"^E01\d{6}$",
    "ethnic_category": r"^([A-HJ-NPR-SZ]|99)$",
    "postcode": r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$",
}


@dataclass(frozen=True)
class Column:
    """One column of an extract: the feed's own name, the pipeline's name, and what it means."""

    name: str
    canonical: str
    dtype: DType
    description: str
    required: bool = False
    identifiable: bool = False
    pattern: str | None = None  # key into PATTERNS


@dataclass(frozen=True)
class Extract:
    """One monthly feed: which setting it comes from, what it is modelled on, and its columns."""

    source: str
    setting: str
    modelled_on: str
    description: str
    date_format: str
    activity_date: str  # canonical date column that places a row in its month
    record_id: str | None  # canonical column unique per record within the feed, if the feed has one
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, canonical: str) -> Column:
        for c in self.columns:
            if c.canonical == canonical:
                return c
        raise KeyError(canonical)


def column(
    name: str,
    canonical: str,
    dtype: DType,
    description: str,
    *,
    required: bool = False,
    identifiable: bool = False,
    pattern: str | None = None,
) -> Column:
    """A Column with keyword flags: how every extract below is written, one line per column."""
    return Column(name, canonical, dtype, description, required, identifiable, pattern)


def nhs_column(name: str = "NHS_Number") -> Column:
    """The NHS number column, the same in every feed but for its name."""
    return column(
        name,
        "nhs_number",
        "str",
        "NHS number (10 digits, modulus 11). May carry spaces or dashes, or be missing.",
        identifiable=True,
        pattern="nhs_number",
    )


def demographics(sex: str, dob: str, ethnic: str, postcode: str, practice: str) -> tuple[Column, ...]:
    """The demographic block that secondary-care feeds carry alongside the NHS number."""
    return (
        column(sex, "sex", "str", "Sex: M, F or U (unknown). Feeds using 1/2/9 are mapped to M/F/U."),
        column(dob, "date_of_birth", "date", "Date of birth.", identifiable=True),
        column(
            ethnic,
            "ethnic_category",
            "str",
            "NHS ethnic category code (A-S, Z, 99); may be blank.",
            pattern="ethnic_category",
        ),
        column(
            postcode, "postcode", "str", "Postcode of usual address.", identifiable=True, pattern="postcode"
        ),
        column(
            practice,
            "practice_code",
            "str",
            "ODS code of the registered GP practice.",
            pattern="ods_practice",
        ),
    )
