"""The vocabulary extracts are written in: column and extract types, code patterns, column builders.

`connectors.spec` is the catalogue built from these; the extract definitions (`extracts_gp`,
`extracts_hospital`, `extracts_community`) use the builders so each column reads as one line.

Typed values (why every column has a shape): a value that does not fit its column must never reach the
warehouse as text, because a name or a postcode typed into the wrong field of a feed would then be
published beside a pseudonymous token. So every column is one of: a date, a bounded number, a value
with a pattern (codes, identifiers, times) or a value from a code list; or it is declared free text
(``free_text=True``), and every free-text column is identifiable and dropped by de-identification.
Every column also has a maximum length (``max_length``, defaulting by kind below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DType = Literal["str", "date", "int", "float"]

# Patterns for code conformance (used by connectors for normalisation and by quality/ for checks).
PATTERNS: dict[str, str] = {
    "nhs_number": r"^\d{10}$",
    "ods_practice": r"^[A-Z]\d{5}$",
    # A trust (3 characters) or one of its sites (5, ending in a digit): a five-letter name cannot pass.
    "ods_provider": r"^[A-Z0-9]{3}([A-Z0-9]\d)?$",
    "snomed": r"^\d{6,18}$",
    "dmd": r"^\d{6,18}$",
    "icd10": r"^[A-Z]\d{2}[0-9X]?$",
    "opcs4": r"^[A-Z]\d{2}\d?$",
    "lsoa21": r"^E01\d{6}$",
    "ethnic_category": r"^([A-HJ-NPR-SZ]|99)$",
    "postcode": r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$",
    # A feed's own record identifier: letters then at least one digit (EPI000000123, GPE...), no spaces,
    # so a name (no digit), a postcode (a space) or a bare NHS number (no leading letter) cannot pass.
    "record_id": r"^[A-Z]+[A-Z0-9_/-]*\d[A-Z0-9_/-]*$",
    "time_hhmm": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
    # NHS Data Dictionary short codes (admission method 2A, source 19, discharge method 4, attendance 5,
    # treatment function 110): one to three characters, never long enough to hold a name or number.
    "dd_code": r"^[0-9][0-9A-Z]{0,2}$",
}

#: Columns whose values can look like a bare 10-digit number (SNOMED CT and dm+d concept ids): a value
#: there that is a valid NHS number (modulus 11) is refused as an identifier in the wrong field.
NUMERIC_ID_PATTERNS: frozenset[str] = frozenset({"snomed", "dmd"})

#: Maximum value length (characters) when a column does not set its own: codes and ids are short,
#: free text (names, address lines) and code-list labels longer.
DEFAULT_MAX_LENGTH = 40
FREE_TEXT_MAX_LENGTH = 100
CODE_LIST_MAX_LENGTH = 80


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
    codes: frozenset[str] | None = None  # the code list a value must be on (compared case-insensitively)
    free_text: bool = (
        False  # no shape to check: only ever an identifiable column, dropped before the warehouse
    )
    max_length: int = DEFAULT_MAX_LENGTH
    bounds: tuple[float, float] | None = None  # inclusive range of an int/float column

    @property
    def shape(self) -> str:
        """How a value of the column is checked (for the data dictionary)."""
        if self.free_text:
            return "free text"
        if self.dtype != "str":
            return self.dtype + (f" in [{self.bounds[0]:g}, {self.bounds[1]:g}]" if self.bounds else "")
        if self.pattern is not None:
            return f"pattern `{self.pattern}`"
        if self.codes is not None:
            return "code list: " + ", ".join(f"`{c}`" for c in sorted(self.codes))
        return "sex code" if self.canonical == "sex" else "unchecked"


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
    codes: frozenset[str] | tuple[str, ...] | None = None,
    free_text: bool = False,
    max_length: int | None = None,
    bounds: tuple[float, float] | None = None,
) -> Column:
    """A Column with keyword flags: how every extract below is written, one line per column.

    Free text must be identifiable (it is dropped by de-identification, never published); the default
    maximum length follows the kind of value.
    """
    if free_text and not identifiable:
        raise ValueError(f"{name}: a free-text column must be identifiable (it may not reach the warehouse)")
    if max_length is None:
        max_length = (
            FREE_TEXT_MAX_LENGTH if free_text else CODE_LIST_MAX_LENGTH if codes else DEFAULT_MAX_LENGTH
        )
    code_set = frozenset(codes) if codes is not None else None
    return Column(
        name, canonical, dtype, description, required, identifiable, pattern, code_set, free_text,
        max_length, bounds,
    )  # fmt: skip


def nhs_column(name: str = "NHS_Number", *, required: bool = False) -> Column:
    """The NHS number column, the same in every feed but for its name.

    Optional (secondary care, social care): a missing or invalid number is nulled and flagged
    (``nhs_number_status``) and the row is traced. Required (GP feeds, whose patients are identified by
    the practice's own register and are never traced): a missing number is ``missing_required`` and an
    invalid one ``invalid_nhs_number``, so no GP row is counted loaded without a token.
    """
    text = "NHS number (10 digits, modulus 11). May carry spaces or dashes"
    return column(
        name,
        "nhs_number",
        "str",
        text + ("; required (a GP record always has one)." if required else ", or be missing."),
        required=required,
        identifiable=True,
        pattern="nhs_number",
        max_length=14,  # '999 123 4567' / '999-123-4567' with room for stray spaces
    )


def demographics(sex: str, dob: str, ethnic: str, postcode: str, practice: str) -> tuple[Column, ...]:
    """The demographic block that secondary-care feeds carry alongside the NHS number."""
    return (
        sex_column(sex, "Sex: M, F or U (unknown). Feeds using 1/2/9 are mapped to M/F/U."),
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


def sex_column(name: str, description: str = "Sex: M, F or U.") -> Column:
    """The sex column: any value not on ``normalise.SEX_CODES`` becomes U (unknown), never loaded as text."""
    return column(name, "sex", "str", description, max_length=10)


def name_column(name: str, canonical: str, description: str) -> Column:
    """A person's name or address line: free text, identifiable, used for tracing and then dropped."""
    return column(name, canonical, "str", description, identifiable=True, free_text=True)
