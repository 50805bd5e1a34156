"""Per-source rules the spec does not express: the few things a feed needs beyond its columns.

The generic engine (``connectors.ingest``) reads every source from ``connectors.spec``; a source only
appears here when it has something special. Date formats come from the spec (``Extract.date_format``,
e.g. ASC CLD's DD/MM/YYYY); sex codes 1/2/9 (SUS, ECDS, CSDS, MHSDS) are mapped for every feed by
``normalise.SEX_CODES`` because the codes are unambiguous wherever they appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.normalise import SEX_CODES


@dataclass(frozen=True)
class SourceRules:
    """Extra checks and mappings for one source."""

    #: (start, end) canonical date columns: a row with end < start is quarantined (end_before_start).
    end_after_start: tuple[tuple[str, str], ...] = ()
    sex_codes: dict[str, str] = field(default_factory=lambda: dict(SEX_CODES))


RULES: dict[str, SourceRules] = {
    "gp_patients": SourceRules(end_after_start=(("registration_start", "registration_end"),)),
    "apc": SourceRules(
        end_after_start=(("episode_start", "episode_end"), ("admission_date", "discharge_date"))
    ),
    "ecds": SourceRules(end_after_start=(("arrival_date", "departure_date"),)),
    "mhsds": SourceRules(end_after_start=(("start_date", "end_date"),)),
    "asc_cld": SourceRules(end_after_start=(("event_start", "event_end"),)),
}


def rules_for(source: str) -> SourceRules:
    """The rules for a source (defaults when it needs nothing special)."""
    return RULES.get(source, SourceRules())
