"""Registers: National Data Opt-out list, non-sharing practices, and the governance register."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from synthetic.config import Calendar, GeneratorConfig
from synthetic.geography import Geography
from synthetic.people import Population

_PLACE_NDOO = np.array([0.08, 0.045, 0.03])  # urban place higher, rural lower (3-8%)
_NDOO_LAUNCH = int(np.datetime64("2018-05-25", "D").astype(np.int64))


def national_data_opt_out(
    config: GeneratorConfig, cal: Calendar, geo: Geography, pop: Population, rng: np.random.Generator
) -> tuple[np.ndarray, pl.DataFrame]:
    """Who opted out (per person) and the register file (sorted by NHS number)."""
    rate = _PLACE_NDOO[geo.lsoa_place[pop.lsoa0]]
    rate = rate * config.ndoo_rate / float(rate.mean())
    opted = (rng.random(pop.n) < rate) & (pop.dob < cal.end)
    idx = np.flatnonzero(opted)
    lo = np.maximum(_NDOO_LAUNCH, pop.dob[idx] + 1)
    recorded = lo + (rng.random(len(idx)) * (cal.end - lo + 1)).astype(np.int64)
    frame = pl.DataFrame(
        {
            "NHS_Number": pl.Series(pop.nhs[idx]).cast(pl.String),
            "Recorded_Date": pl.Series(recorded).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d"),
        }
    ).sort("NHS_Number")
    return opted, frame


def non_sharing_practices(
    config: GeneratorConfig, geo: Geography, rng: np.random.Generator
) -> tuple[np.ndarray, pl.DataFrame]:
    chosen = np.sort(
        rng.choice(geo.n_practice, size=min(config.non_sharing_practices, geo.n_practice), replace=False)
    )
    reasons = ("Data sharing agreement not signed", "Agreement under review", "Practice merger in progress")
    flag = np.zeros(geo.n_practice, bool)
    flag[chosen] = True
    frame = pl.DataFrame(
        {
            "Practice_Code": geo.practice_code[chosen],
            "Reason": [reasons[i % len(reasons)] for i in range(len(chosen))],
        }
    ).sort("Practice_Code")
    return flag, frame


def governance_register(cal: Calendar, geo: Geography) -> dict[str, Any]:
    """An example register of approved purposes for re-identification (validated by a later issue)."""
    end = np.datetime64(cal.labels[-1], "M")
    approved = str((end - 9).astype("datetime64[D]"))
    expiry = str((end + 15).astype("datetime64[D]"))
    expired_on = str((end - 2).astype("datetime64[D]"))
    pcns = sorted(set(geo.pcn_code.tolist()))
    practices = sorted(geo.practice_code.tolist())
    return {
        "version": 1,
        "organisation": "Synthetic ICS (fictitious)",
        "purposes": [
            {
                "id": "DC-001",
                "title": "Case finding for proactive care: the registered practice re-identifies its own "
                "high-risk patients for multidisciplinary review",
                "legal_basis": "Direct care: UK GDPR Art 6(1)(e) and Art 9(2)(h); common law duty of "
                "confidentiality met by implied consent for direct care",
                "approving_body": "ICS Information Governance Group",
                "approved_date": approved,
                "expiry_date": expiry,
                "permitted_cohorts": ["risk_tier_1", "risk_tier_2", "frailty_moderate_severe"],
                "recipients": [{"type": "practice", "scope": "own_registered_patients", "codes": practices}],
                "fields": [
                    "nhs_number",
                    "given_name",
                    "family_name",
                    "date_of_birth",
                    "practice_code",
                    "risk_tier",
                    "frailty_category",
                ],
                "ndoo_applies": False,
                "type1_applies": True,
            },
            {
                "id": "DC-002",
                "title": "PCN anticipatory care: PCN clinical teams re-identify frail patients of member practices",
                "legal_basis": "Direct care: UK GDPR Art 6(1)(e) and Art 9(2)(h); implied consent",
                "approving_body": "ICS Information Governance Group",
                "approved_date": approved,
                "expiry_date": expiry,
                "permitted_cohorts": ["frailty_moderate_severe"],
                "recipients": [{"type": "pcn", "scope": "member_practice_patients", "codes": pcns}],
                "fields": [
                    "nhs_number",
                    "given_name",
                    "family_name",
                    "date_of_birth",
                    "practice_code",
                    "frailty_category",
                ],
                "ndoo_applies": False,
                "type1_applies": True,
            },
            {
                "id": "PL-001",
                "title": "Service evaluation of the frailty pathway (identifiable linkage for follow-up)",
                "legal_basis": "Section 251 support (COPI Regulations 2002, Regulation 5)",
                "approving_body": "Confidentiality Advisory Group (example reference 26/CAG/0000)",
                "approved_date": approved,
                "expiry_date": expired_on,
                "permitted_cohorts": ["frailty_moderate_severe"],
                "recipients": [{"type": "team", "scope": "named_team", "codes": ["ICS-ANALYTICS"]}],
                "fields": ["nhs_number", "date_of_birth"],
                "ndoo_applies": True,
                "type1_applies": True,
                "note": "Expired: requests under this purpose must be refused.",
            },
        ],
    }


def write_governance(path: Path, register: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(register, sort_keys=False, width=100, allow_unicode=True))
