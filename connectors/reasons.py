"""Reason codes for rows that do not become records.

Each data line of a file ends up in exactly one bucket, decided in this order (the first that applies
wins, so a row is counted once):

1. quarantined (``QUARANTINE_REASONS``): the row is wrong and is kept, raw, in the identifiable zone for
   fix and replay;
2. excluded (``EXCLUSION_REASONS``): the row is fine but must not be loaded (a repeat, or data a practice
   has not agreed to share);
3. opted out (routes ``ndoo`` / ``type1``, see ``connectors.optouts``);
4. loaded.
"""

from __future__ import annotations

from typing import Final

MALFORMED_LINE: Final = "malformed_line"
CONTROL_CHARACTER: Final = "control_character"
VALUE_TOO_LONG: Final = "value_too_long"
MISSING_REQUIRED: Final = "missing_required"
INVALID_NHS_NUMBER: Final = "invalid_nhs_number"
IDENTIFIER_IN_FIELD: Final = "identifier_in_field"
INVALID_DATE: Final = "invalid_date"
INVALID_CODE: Final = "invalid_code"
INVALID_NUMBER: Final = "invalid_number"
FUTURE_DATE: Final = "future_date"
END_BEFORE_START: Final = "end_before_start"

#: Quarantine reasons in the order they are tested; a row gets the first one that applies.
QUARANTINE_REASONS: Final[dict[str, str]] = {
    MALFORMED_LINE: (
        "The physical line is not one CSV record of the header's width: wrong number of fields, "
        "unbalanced or stray quotes, or a blank line inside the file."
    ),
    CONTROL_CHARACTER: (
        "The record holds a NUL or another control character (tab, carriage return inside a line, "
        "escape, ...): no clean value of any feed has one. A line break is allowed only inside a quoted "
        "free-text field."
    ),
    VALUE_TOO_LONG: "A value is longer than its column's maximum length (`Column.max_length` in the spec).",
    MISSING_REQUIRED: "A column the spec marks required is blank (after trimming spaces).",
    INVALID_NHS_NUMBER: (
        "A GP feed's NHS number (required there: GP rows are never traced) is not a valid 10-digit "
        "modulus 11 number. In every other feed an invalid number is nulled, flagged in "
        "nhs_number_status and the row traced."
    ),
    IDENTIFIER_IN_FIELD: (
        "A SNOMED CT or dm+d column holds a 10-digit value that is a valid NHS number: an identifier "
        "typed into a clinical code field, kept out of the warehouse."
    ),
    INVALID_DATE: (
        "A date column is not blank but does not parse with the source's date format, or is impossible "
        "(e.g. 2025-02-30)."
    ),
    INVALID_CODE: (
        "A column with a spec pattern (ODS, SNOMED CT, dm+d, ICD-10, OPCS-4, LSOA, ethnic category, "
        "postcode, record id, time, Data Dictionary code) is not blank but fails its pattern after "
        "normalisation, or a categorical column (team type, record type, event type, support reason, "
        "service type, unit) holds a value off its code list. Well-formed clinical codes that are not on "
        "a shipped code list are loaded; the data quality layer reports them."
    ),
    INVALID_NUMBER: "An int/float column is not blank but is not a number, or is outside the column's bounds.",
    FUTURE_DATE: (
        "The activity date (or a date of birth) is after the last day of the file's month, or after "
        "the as-of date. Activity dated in an *earlier* month is kept: late submissions are normal in "
        "SUS/CSDS/MHSDS."
    ),
    END_BEFORE_START: "An end date (spell, episode, event, registration, departure) is before its start.",
}

DUPLICATE: Final = "duplicate"
PRACTICE_NOT_SHARING: Final = "practice_not_sharing"

#: Exclusion reasons: the row is not wrong, it is just not loaded.
EXCLUSION_REASONS: Final[dict[str, str]] = {
    DUPLICATE: "An exact repeat of an earlier line of the same file (same raw text); the first is kept.",
    PRACTICE_NOT_SHARING: (
        "A GP-source row from a practice on the non-sharing register. Non-GP rows of those practices' "
        "patients still flow, flagged practice_shares_gp_data = false."
    ),
}
