"""Registers: National Data Opt-out list, non-sharing practices, and the governance register."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

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


def write_governance(path: Path) -> None:
    """The example governance register of approved purposes (the one shipped with the release code),
    so a synthetic installation releases under the same purposes the docs and cohort definitions name."""
    from core.files import write_public
    from pseudonymisation.release.register import EXAMPLE_REGISTER

    write_public(path, EXAMPLE_REGISTER.read_bytes())  # 0600 in landing's 0700 folder
