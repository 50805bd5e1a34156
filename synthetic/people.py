"""The population: demographics at the start, births, and life events (moves, practice changes).

Deaths are drawn in `health` (they depend on health). Dates are int64 day numbers since
1970-01-01; ``NEVER`` marks an event that does not happen in the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from connectors.spec import ETHNIC_CATEGORIES
from synthetic.config import Calendar, GeneratorConfig
from synthetic.geography import Geography, sample_rows
from synthetic.names import FAMILY, GIVEN_FEMALE, GIVEN_MALE, ORIGIN_BY_ETHNICITY, ORIGINS
from synthetic.nhs_numbers import sample_nhs_numbers

NEVER = np.int64(10**7)

# ONS mid-year England, % by 5-year band 0-4 .. 95-99 (shape only).
_PYRAMID = np.array(
    [5.4, 5.9, 6.1, 5.8, 6.0, 6.6, 6.9, 6.7, 6.4, 6.2, 6.8, 6.6, 5.9, 5.0, 4.9, 3.8, 2.4, 1.5, 0.7, 0.2]
)
_FEMALE_BY_BAND = np.array([0.49] * 12 + [0.51, 0.52, 0.53, 0.55, 0.57, 0.62, 0.68, 0.74])

ETHNIC_CODES = tuple(c for c in ETHNIC_CATEGORIES if c not in ("Z", "99"))  # the 16 real categories
# 2021 census England shares, mapped to the 2001 categories (percent).
_ETHNIC_SHARE = np.array([73.5, 0.9, 6.5, 0.9, 0.5, 0.8, 0.7, 3.3, 2.9, 1.1, 1.6, 1.1, 2.5, 0.5, 0.8, 1.6])
_MIN_GROUPS = np.array([c not in "ABC" for c in ETHNIC_CODES])
_DEPRIVED_GROUPS = np.array([c in "JKMNDP" for c in ETHNIC_CODES])
# Non-White share multiplier by place (urban, mixed, rural), tuned so the ICS is England-like overall.
_PLACE_DIVERSITY = np.array([1.75, 0.85, 0.25])

GIVEN_VOCAB = np.array(sorted({n for d in (GIVEN_MALE, GIVEN_FEMALE) for v in d.values() for n in v}))
FAMILY_VOCAB = np.array(sorted({n for v in FAMILY.values() for n in v}))


@dataclass
class Population:
    """One row per person ever in the ICS (index = person_id)."""

    nhs: np.ndarray
    sex: np.ndarray  # 0 male, 1 female
    dob: np.ndarray
    ethnic: np.ndarray  # index into ETHNIC_CODES
    given: np.ndarray  # index into GIVEN_VOCAB
    family: np.ndarray  # index into FAMILY_VOCAB
    lsoa0: np.ndarray
    postcode0: np.ndarray  # index into Geography.postcode
    address0: np.ndarray  # house number * 1000 + street index
    practice0: np.ndarray
    reg_start: np.ndarray  # registration start at practice0 (NEVER: never registered in the period)
    born_in_period: np.ndarray  # bool
    move_date: np.ndarray
    lsoa1: np.ndarray
    postcode1: np.ndarray
    address1: np.ndarray
    switch_date: np.ndarray  # change of practice
    practice1: np.ndarray
    death: np.ndarray  # filled by health.draw_deaths

    @property
    def n(self) -> int:
        return len(self.nhs)

    def entry(self, cal: Calendar) -> np.ndarray:
        return np.maximum(self.dob, cal.start)

    def exit(self, cal: Calendar) -> np.ndarray:
        return np.minimum(self.death, cal.end)

    def age_at(self, day: np.ndarray | int, who: np.ndarray | slice = slice(None)) -> np.ndarray:
        return (np.asarray(day) - self.dob[who]) / 365.25


def _ethnic_cum(geo: Geography) -> np.ndarray:
    w = np.tile(_ETHNIC_SHARE, (geo.n_lsoa, 1))
    w[:, _MIN_GROUPS] *= _PLACE_DIVERSITY[geo.lsoa_place][:, None]
    dep = (10 - geo.lsoa_imd) / 9  # 1 most deprived .. 0 least
    w[:, _DEPRIVED_GROUPS] *= (0.4 + 1.6 * dep)[:, None]
    return np.cumsum(w, axis=1)


def _origin_cum() -> np.ndarray:
    m = np.array([[ORIGIN_BY_ETHNICITY[c].get(o, 0.0) for o in ORIGINS] for c in ETHNIC_CODES])
    return np.cumsum(m, axis=1)


def _names(rng: np.random.Generator, ethnic: np.ndarray, sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    origin = sample_rows(_origin_cum(), ethnic, rng)
    given = np.empty(len(ethnic), dtype=np.int64)
    family = np.empty(len(ethnic), dtype=np.int64)
    for o, name in enumerate(ORIGINS):
        for s, lists in ((0, GIVEN_MALE), (1, GIVEN_FEMALE)):
            idx = np.flatnonzero((origin == o) & (sex == s))
            pool = np.searchsorted(GIVEN_VOCAB, np.array(lists[name]))
            # Zipf-like popularity: early names in each list are more common.
            pw = 1 / np.sqrt(np.arange(1, len(pool) + 1))
            given[idx] = pool[rng.choice(len(pool), size=len(idx), p=pw / pw.sum())]
        idx = np.flatnonzero(origin == o)
        pool = np.searchsorted(FAMILY_VOCAB, np.array(FAMILY[name]))
        pw = 1 / np.arange(1, len(pool) + 1) ** 0.7
        family[idx] = pool[rng.choice(len(pool), size=len(idx), p=pw / pw.sum())]
    return given, family


def _postcode_in(geo: Geography, lsoa: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return geo.lsoa_pc_start[lsoa] + (rng.random(len(lsoa)) * geo.lsoa_pc_count[lsoa]).astype(np.int64)


def _address_in(geo: Geography, lsoa: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    house = rng.integers(1, 180, size=len(lsoa))
    street = geo.lsoa_streets[lsoa, rng.integers(0, 4, size=len(lsoa))]
    return house * 1000 + street


def build_population(
    config: GeneratorConfig, cal: Calendar, geo: Geography, rngs: list[np.random.Generator]
) -> Population:
    """Initial population plus births, with addresses, practices and life events."""
    r_demo, r_names, r_birth, r_events, r_nhs = rngs
    n0 = config.persons
    n_births = int(r_birth.poisson(n0 * config.birth_rate * cal.years))
    n = n0 + n_births
    nhs = sample_nhs_numbers(r_nhs, n)  # raises before any work if the test range is too small

    band = r_demo.choice(len(_PYRAMID), size=n0, p=_PYRAMID / _PYRAMID.sum())
    age = (band * 5 + r_demo.random(n0) * 5).clip(0, 100.9)
    dob0 = cal.start - np.floor(age * 365.25).astype(np.int64) - 1
    sex0 = (r_demo.random(n0) < _FEMALE_BY_BAND[band]).astype(np.int64)
    place = r_demo.choice(3, size=n0, p=[0.40, 0.35, 0.25])
    lsoa0 = np.empty(n0, dtype=np.int64)
    for p in range(3):
        idx = np.flatnonzero(place == p)
        members = np.flatnonzero(geo.lsoa_place == p)
        size = r_demo.lognormal(0, 0.25, len(members))
        lsoa0[idx] = members[r_demo.choice(len(members), size=len(idx), p=size / size.sum())]
    ethnic0 = sample_rows(_ethnic_cum(geo), lsoa0, r_demo)
    given0, family0 = _names(r_names, ethnic0, sex0)
    practice0 = sample_rows(geo.lsoa_practice_cum, lsoa0, r_demo)
    years_registered = r_demo.exponential(9.0, n0)
    reg0 = np.maximum(dob0 + 14, cal.start - np.floor(years_registered * 365.25).astype(np.int64))

    # Births: a mother (a woman aged 18-44) gives the baby her home, practice and family name.
    mothers_pool = np.flatnonzero((sex0 == 1) & (age >= 18) & (age < 45))
    mother = mothers_pool[r_birth.integers(0, len(mothers_pool), size=n_births)]
    dob_b = np.sort(r_birth.integers(cal.start, cal.end + 1, size=n_births))
    sex_b = (r_birth.random(n_births) < 0.487).astype(np.int64)
    ethnic_b = np.where(
        r_birth.random(n_births) < 0.9, ethnic0[mother], sample_rows(_ethnic_cum(geo), lsoa0[mother], r_birth)
    )
    given_b, _ = _names(r_names, ethnic_b, sex_b)
    reg_b = dob_b + r_birth.integers(7, 43, size=n_births)

    pop = Population(
        nhs=nhs,
        sex=np.concatenate([sex0, sex_b]),
        dob=np.concatenate([dob0, dob_b]),
        ethnic=np.concatenate([ethnic0, ethnic_b]),
        given=np.concatenate([given0, given_b]),
        family=np.concatenate([family0, family0[mother]]),
        lsoa0=np.concatenate([lsoa0, lsoa0[mother]]),
        postcode0=np.zeros(n, dtype=np.int64),
        address0=np.zeros(n, dtype=np.int64),
        practice0=np.concatenate([practice0, practice0[mother]]),
        reg_start=np.concatenate([reg0, np.where(reg_b <= cal.end, reg_b, NEVER)]),
        born_in_period=np.concatenate([np.zeros(n0, bool), np.ones(n_births, bool)]),
        move_date=np.full(n, NEVER),
        lsoa1=np.zeros(n, dtype=np.int64),
        postcode1=np.zeros(n, dtype=np.int64),
        address1=np.zeros(n, dtype=np.int64),
        switch_date=np.full(n, NEVER),
        practice1=np.zeros(n, dtype=np.int64),
        death=np.full(n, NEVER),
    )
    pc0 = _postcode_in(geo, lsoa0, r_demo)
    ad0 = _address_in(geo, lsoa0, r_demo)
    pop.postcode0 = np.concatenate([pc0, pc0[mother]])
    pop.address0 = np.concatenate([ad0, ad0[mother]])
    _life_events(config, cal, geo, pop, r_events)
    return pop


def _life_events(
    config: GeneratorConfig, cal: Calendar, geo: Geography, pop: Population, rng: np.random.Generator
) -> None:
    """At most one house move and one change of practice per person in the period."""
    n = pop.n
    entry = pop.entry(cal)
    span = (cal.end - entry + 1).clip(1)
    movers = rng.random(n) < 1 - np.exp(-config.move_rate * span / 365.25)
    move_date = entry + (rng.random(n) * span).astype(np.int64)
    pop.move_date = np.where(movers, move_date, NEVER)
    kind = rng.random(n)  # < 0.25 same LSOA, < 0.9 same place, else another place
    target_place = np.where(
        kind < 0.9, geo.lsoa_place[pop.lsoa0], (geo.lsoa_place[pop.lsoa0] + rng.integers(1, 3, n)) % 3
    )
    lsoa1 = pop.lsoa0.copy()
    for p in range(3):
        idx = np.flatnonzero(movers & (kind >= 0.25) & (target_place == p))
        lsoa1[idx] = rng.choice(np.flatnonzero(geo.lsoa_place == p), size=len(idx))
    pop.lsoa1 = lsoa1
    pc1 = _postcode_in(geo, lsoa1, rng)
    pop.postcode1 = np.where(
        pc1 == pop.postcode0,
        geo.lsoa_pc_start[lsoa1] + (pc1 - geo.lsoa_pc_start[lsoa1] + 1) % geo.lsoa_pc_count[lsoa1],
        pc1,
    )
    pop.address1 = _address_in(geo, lsoa1, rng)

    registered = pop.reg_start < NEVER
    changed_place = movers & (geo.lsoa_place[lsoa1] != geo.lsoa_place[pop.lsoa0])
    p_switch_mover = np.where(changed_place, 0.8, np.where(kind < 0.25, 0.03, 0.25))
    switch_with_move = registered & movers & (rng.random(n) < p_switch_mover)
    switch_alone = (
        registered
        & ~switch_with_move
        & (rng.random(n) < 1 - np.exp(-config.practice_switch_rate * span / 365.25))
    )
    start = np.maximum(entry, pop.reg_start + 1)
    alone_date = start + (rng.random(n) * (cal.end - start + 1).clip(1)).astype(np.int64)
    with_move_date = move_date + rng.integers(0, 60, size=n)
    switch = np.where(switch_with_move, with_move_date, np.where(switch_alone, alone_date, NEVER))
    switch = np.where((switch > cal.end) | (switch <= pop.reg_start), NEVER, switch)
    pop.switch_date = switch
    home = np.where(switch_with_move, lsoa1, pop.lsoa0)
    new = sample_rows(geo.lsoa_practice_cum, home, rng)
    same = new == pop.practice0
    pop.practice1 = np.where(
        same, (new + 1 + rng.integers(0, geo.n_practice - 1, size=n)) % geo.n_practice, new
    )
