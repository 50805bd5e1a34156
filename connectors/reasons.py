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
MISSING_REQUIRED: Final = "missing_required"
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
    MISSING_REQUIRED: "A column the spec marks required is blank (after trimming spaces).",
    INVALID_DATE: (
        "A date column is not blank but does not parse with the source's date format, or is impossible "
        "(e.g. 2025-02-30)."
    ),
    INVALID_CODE: (
        "A column with a spec pattern (ODS, SNOMED CT, dm+d, ICD-10, OPCS-4, LSOA, ethnic category, "
        "postcode) is not blank but fails its pattern after normalisation. Well-formed codes that are "
        "not on a code list are loaded; the data quality layer reports them. The NHS number is the "
        "exception: an invalid one is nulled and flagged (nhs_number_status), not quarantined."
    ),
    INVALID_NUMBER: "An int/float column is not blank but is not a number.",
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
