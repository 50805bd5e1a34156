"""GP patient register rows: a full snapshot in the first month, then deltas (registrations,
moves, changes of practice, deaths)."""

from __future__ import annotations

import numpy as np
import polars as pl

from synthetic.activity import Activity
from synthetic.config import Calendar
from synthetic.people import NEVER, Population

_NULL = -1


def gp_patients(cal: Calendar, pop: Population) -> Activity:
    """Rows with the event day (placing the row in its month), practice and registration fields."""
    m0_end = int(cal.month_end[0])
    p = np.arange(pop.n)
    switched_by = pop.switch_date <= m0_end
    registered = pop.reg_start <= np.minimum(m0_end, pop.death)
    snap = p[registered]
    parts = [
        _rows(
            snap,
            np.full(len(snap), m0_end),
            np.where(switched_by[snap], pop.practice1[snap], pop.practice0[snap]),
            np.where(switched_by[snap], pop.switch_date[snap], pop.reg_start[snap]),
            np.where(pop.death[snap] <= m0_end, pop.death[snap], _NULL),
            np.where(pop.death[snap] <= m0_end, pop.death[snap], _NULL),
            "snapshot",
        )
    ]

    def practice_at(who: np.ndarray, day: np.ndarray) -> np.ndarray:
        return np.where(day >= pop.switch_date[who], pop.practice1[who], pop.practice0[who])

    def start_at(who: np.ndarray, day: np.ndarray) -> np.ndarray:
        return np.where(day >= pop.switch_date[who], pop.switch_date[who], pop.reg_start[who])

    new = p[(pop.reg_start > m0_end) & (pop.reg_start <= cal.end) & (pop.reg_start <= pop.death)]
    d = pop.reg_start[new]
    parts.append(
        _rows(
            new, d, practice_at(new, d), d, np.full(len(new), _NULL), np.full(len(new), _NULL), "registration"
        )
    )

    mv = p[
        (pop.move_date > m0_end)
        & (pop.move_date < NEVER)
        & (pop.move_date > pop.reg_start)
        & (pop.move_date != pop.switch_date)  # a same-day registration row already carries the new address
        & (pop.move_date <= pop.death)
    ]
    d = pop.move_date[mv]
    parts.append(
        _rows(
            mv,
            d,
            practice_at(mv, d),
            start_at(mv, d),
            np.full(len(mv), _NULL),
            np.full(len(mv), _NULL),
            "move",
        )
    )

    sw = p[(pop.switch_date > m0_end) & (pop.switch_date < NEVER) & (pop.switch_date <= pop.death)]
    d = pop.switch_date[sw]
    parts.append(
        _rows(sw, d, pop.practice0[sw], pop.reg_start[sw], d, np.full(len(sw), _NULL), "deregistration")
    )
    parts.append(
        _rows(sw, d, pop.practice1[sw], d, np.full(len(sw), _NULL), np.full(len(sw), _NULL), "registration")
    )

    dead = p[(pop.death > m0_end) & (pop.death <= cal.end) & (pop.reg_start <= pop.death)]
    d = pop.death[dead]
    parts.append(_rows(dead, d, practice_at(dead, d), start_at(dead, d), d, d, "death"))
    frame = pl.concat(parts)
    return Activity("gp_patients", frame)


def _rows(
    person: np.ndarray,
    day: np.ndarray,
    practice: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    death: np.ndarray,
    kind: str,
) -> pl.DataFrame:
    def nullable(a: np.ndarray) -> pl.Series:
        return pl.Series(a.astype(np.int64)).replace(_NULL, None)

    return pl.DataFrame(
        {
            "person": person.astype(np.int64),
            "date": day.astype(np.int64),
            "practice_idx": practice.astype(np.int64),
            "registration_start": start.astype(np.int64),
            "registration_end": nullable(end),
            "date_of_death": nullable(death),
            "row_kind": np.full(len(person), kind),
        }
    )
