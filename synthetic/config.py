"""Generator configuration, the summary it returns, and the calendar of extract months."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DefectRates:
    """Rates of the data defects injected into the extracts (all recorded in truth/config.json).

    Rates are per written data row unless said otherwise. Sources are spec source names.
    """

    bad_check_digit: float = 0.005  # secondary care feeds (apc, ecds, outpatients, csds, mhsds)
    missing_nhs_asc: float = 0.25  # asc_cld rows with no NHS number
    missing_nhs_other: float = 0.015  # other non-GP feeds
    nhs_formatted: float = 0.03  # '999 123 4567' or '999-123-4567' in non-GP feeds
    missing_ethnicity_gp: float = 0.08  # mean per practice; practices vary (some 25%+)
    missing_ethnicity_acute: float = 0.15  # apc, ecds, outpatients
    missing_ethnicity_community: float = 0.12  # csds, mhsds
    missing_ethnicity_asc: float = 0.30
    duplicate_row: float = 0.003  # exact duplicate rows, every source
    bad_date: float = 0.001  # impossible calendar date or a date after the extract month
    unknown_code: float = 0.002  # well-formed code that is in no shipped code list
    malformed_line: float = 0.0001  # extra field or unbalanced quote
    messy_code: float = 0.01  # lower-case or stray whitespace in a code column
    misspelt_name: float = 0.03  # asc_cld only: one-character edit to a name
    swapped_names: float = 0.01  # asc_cld only: given and family name swapped
    transposed_dob: float = 0.01  # asc_cld only: day/month swap or digit transposition
    stale_postcode: float = 0.5  # asc_cld only: share of rows after a move still carrying the old postcode


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that shapes a synthetic ICS. The same config gives byte-identical files.

    ``persons`` is the registered population at the start of the first month; births during the
    period are added on top (``birth_rate`` per person-year). Every person gets a unique, valid NHS
    number from the synthetic test range (`synthetic.nhs_numbers`): the 999 range (909,091 valid
    numbers) while persons plus births fit in it, the wider 900 000 0000-999 999 9999 range beyond.
    """

    persons: int = 20_000
    seed: int = 42
    months: int = 24
    end_month: str = "2026-10"
    birth_rate: float = 0.0105  # per person-year (England ~10.5 per 1,000)
    move_rate: float = 0.09  # house moves per person-year
    practice_switch_rate: float = 0.02  # changes of practice without a move, per person-year
    type1_opt_out: float = 0.03  # mean share with the Type 1 code; practices vary
    ndoo_rate: float = 0.05  # mean National Data Opt-out share; places vary 3-8%
    non_sharing_practices: int = 3
    defects: DefectRates = field(default_factory=DefectRates)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote."""

    persons: int
    births: int
    deaths: int
    rows: dict[str, int]
    files_written: int
    seconds: float


class Calendar:
    """The extract months as day numbers (days since 1970-01-01), independent of today's date."""

    def __init__(self, end_month: str, months: int) -> None:
        end = np.datetime64(end_month, "M")
        self.month_starts_m = np.arange(end - (months - 1), end + 1)
        self.labels: list[str] = [str(m) for m in self.month_starts_m]
        self.month_start = self.month_starts_m.astype("datetime64[D]").astype(np.int64)
        self.month_end = (self.month_starts_m + 1).astype("datetime64[D]").astype(np.int64) - 1
        self.start = int(self.month_start[0])
        self.end = int(self.month_end[-1])
        self.months = months
        # The oracle window: the final 12 months (or the whole period if shorter).
        self.window_start = int(self.month_start[max(0, months - 12)])
        self.years = (self.end - self.start + 1) / 365.25

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Index of the month each day number falls in (dates must lie inside the period)."""
        return np.searchsorted(self.month_start, days, side="right") - 1
