"""Evidence of consent: who agreed to a consent purpose, when, and whether that overrides their opt-outs.

A purpose with legal basis ``consent`` names a consent register in the signed governance bundle
(``consent_register: consent/<name>.csv``), so nobody can add consent after the approver signed.
Columns: ``nhs_number,consent_given,consent_withdrawn,overrides_opt_outs`` (dates YYYY-MM-DD; withdrawn
empty while consent stands; overrides ``true`` only where the consent form says the person's explicit
consent to this use outweighs an earlier opt-out). Only people with consent active on the release date
are released; opt-outs still apply to everyone else's consent unless their record overrides them.

The file holds NHS numbers: problems are reported by line number, never by value.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from core.errors import Refused

__all__ = ["CONSENT_COLUMNS", "Consent", "ConsentError", "active_consent"]

CONSENT_COLUMNS = ("nhs_number", "consent_given", "consent_withdrawn", "overrides_opt_outs")
_NHS = re.compile(r"^[0-9]{10}$")


class ConsentError(Refused):
    """The consent register is unreadable or malformed (line numbers only, never values)."""


@dataclass(frozen=True)
class Consent:
    active: frozenset[str]  # NHS numbers with consent on the date asked
    overrides_opt_outs: frozenset[str]  # of those, people whose consent outweighs their opt-outs


def _date(text: str, line: int, column: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConsentError(f"consent register line {line}: {column} is not a date YYYY-MM-DD") from None


def active_consent(data: bytes, on: date) -> Consent:
    """Who has consent on ``on`` (given on or before it, not withdrawn on or before it)."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    except UnicodeDecodeError:
        raise ConsentError("consent register is not UTF-8 text") from None
    if not rows or tuple(c.strip() for c in rows[0]) != CONSENT_COLUMNS:
        raise ConsentError(f"consent register header must be {','.join(CONSENT_COLUMNS)}")
    active: set[str] = set()
    overrides: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(CONSENT_COLUMNS):
            raise ConsentError(f"consent register line {line}: expected {len(CONSENT_COLUMNS)} fields")
        number, given, withdrawn, override = (c.strip() for c in row)
        if not _NHS.fullmatch(number):
            raise ConsentError(f"consent register line {line}: nhs_number is not 10 digits")
        if override not in ("true", "false"):
            raise ConsentError(f"consent register line {line}: overrides_opt_outs must be true or false")
        start = _date(given, line, "consent_given")
        end = _date(withdrawn, line, "consent_withdrawn") if withdrawn else None
        if start <= on and (end is None or on < end):
            active.add(number)
            if override == "true":
                overrides.add(number)
    return Consent(frozenset(active), frozenset(overrides))
