"""Exceptions raised by the connectors.

Messages name the file (relative to landing) and the problem, and may name columns, line numbers and
counts. They never carry a row value: exceptions end up in logs and Dagster run records, which are
outside the identifiable zone.
"""

from __future__ import annotations

from core.errors import Refused


class ExtractFileError(Refused, ValueError):
    """A landing file cannot be read as a whole (encoding, header, truncation, missing file).

    Raised instead of quarantining rows because nothing in the file can be trusted: the supplier must
    resend it.
    """

    def __init__(self, file: str, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


class ReconciliationError(Refused, RuntimeError):
    """Rows in a file do not add up to rows loaded + quarantined + opted out + excluded.

    A bug guard: every data line must be accounted for exactly once before anything is published.
    """
