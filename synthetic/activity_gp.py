"""Primary care activity: coded events (consultations, diagnoses, frailty, measurements, Type 1
opt-outs) and medication issues. Only while registered with a practice."""

from __future__ import annotations

import numpy as np
import polars as pl

from connectors.spec import TYPE1_OPT_OUT_SNOMED
from synthetic.activity import Activity, by_band, calibrate, pick, pick_code, poisson_events, uniform_between
from synthetic.codes import codelist, efi_deficits
from synthetic.config import Calendar, GeneratorConfig
from synthetic.health import CONDITIONS, DEFICITS, Health
from synthetic.people import NEVER, Population

_GP_AGE = (1.4, 0.6, 0.75, 0.85, 0.95, 1.1, 1.4, 1.9, 2.3, 2.4)
_CONSULT_W = [0.30, 0.45, 0.10, 0.08, 0.03, 0.04]  # order of gp_consultation_snomed.csv
_MEASURES = codelist("measurements_snomed")  # HbA1c, systolic, diastolic, BMI
_UNITS = {"999791000000106": "mmol/mol", "72313002": "mmHg", "1091811000000102": "mmHg", "60621009": "kg/m2"}


def registered_span(cal: Calendar, pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """First and last day each person is registered in the period (start > stop if never)."""
    start = np.maximum(pop.entry(cal), np.minimum(pop.reg_start, NEVER))
    return start, pop.exit(cal)


def _recorded_once_per_year(
    rng: np.random.Generator, person: np.ndarray, start: np.ndarray, stop: np.ndarray, ws: int, again: float
) -> tuple[np.ndarray, np.ndarray]:
    """A record in the first year (so baseline features see it) and, with ``again``, one in the second."""
    s, e = start[person], stop[person]
    first_hi = np.where(s < ws, np.minimum(e, ws - 1), e)
    d1 = uniform_between(rng, s, first_hi)
    second = (rng.random(len(person)) < again) & (e >= ws) & (s < ws)
    d2 = uniform_between(rng, np.full(second.sum(), ws), e[second])
    return np.concatenate([person, person[second]]), np.concatenate([d1, d2])


def gp_events(
    config: GeneratorConfig, cal: Calendar, pop: Population, h: Health, rng: np.random.Generator
) -> Activity:
    start, stop = registered_span(cal, pop)
    ok = stop >= start
    age = np.maximum(pop.age_at(cal.start), 0)
    vocab: list[str] = []
    index: dict[str, int] = {}

    def code_ids(codes: tuple[str, ...]) -> np.ndarray:
        for c in codes:
            index.setdefault(c, len(index))
            if len(vocab) < len(index):
                vocab.append(c)
        return np.array([index[c] for c in codes])

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # person, day, code, value

    # Consultations.
    female_boost = np.where((pop.sex == 1) & (age >= 15) & (age < 60), 1.35, 1.0)
    raw = (
        by_band(_GP_AGE, age)
        * female_boost
        * np.exp(0.3 * h.z)
        * (1 + 0.15 * h.n_conditions)
        * (1 + 2 * h.efi)
    )
    exposure = np.where(ok, (stop - start + 1) / 365.25, 0)
    rate = calibrate(np.where(ok, raw, 0), exposure, 6.0)
    p, d = poisson_events(rng, rate, start, stop)
    ids = code_ids(codelist("gp_consultation_snomed"))
    parts.append((p, d, ids[pick(rng, len(p), _CONSULT_W)], np.full(len(p), np.nan)))

    # Long-term conditions, recorded at reviews.
    for j, c in enumerate(CONDITIONS):
        who = np.flatnonzero(h.conditions[:, j] & ok)
        p, d = _recorded_once_per_year(rng, who, start, stop, cal.window_start, 0.6)
        ids = code_ids(codelist(f"{c.name}_snomed"))
        parts.append((p, d, ids[pick_code(rng, len(p), len(ids))], np.full(len(p), np.nan)))

    # Frailty deficits not implied by a recorded condition.
    linked = {c.deficit for c in CONDITIONS if c.deficit}
    for k, name in enumerate(DEFICITS):
        if name in linked:
            continue
        who = np.flatnonzero(h.deficits[:, k] & ok)
        p, d = _recorded_once_per_year(rng, who, start, stop, cal.window_start, 0.3)
        ids = code_ids(efi_deficits()[name])
        parts.append((p, d, ids[pick_code(rng, len(p), len(ids))], np.full(len(p), np.nan)))

    # Measurements.
    diabetic = h.conditions[:, [c.name for c in CONDITIONS].index("diabetes")]
    hypertensive = h.conditions[:, [c.name for c in CONDITIONS].index("hypertension")]
    adult = age >= 18
    hba1c_rate = np.where(diabetic & (rng.random(pop.n) < 0.85), 1.5, np.where(age >= 40, 0.12, 0.0))
    p, d = poisson_events(rng, np.where(ok, hba1c_rate, 0), start, stop)
    level = np.where(diabetic, rng.normal(58, 12, pop.n), rng.normal(37, 4, pop.n))
    v = np.clip(level[p] + rng.normal(0, 4, len(p)), 25, 140).round(0)
    parts.append((p, d, np.full(len(p), code_ids((_MEASURES[0],))[0]), v))
    bp_rate = np.where(hypertensive, 1.3, np.where(adult, 0.35, 0.0))
    p, d = poisson_events(rng, np.where(ok, bp_rate, 0), start, stop)
    sbp_level = np.where(hypertensive, rng.normal(138, 14, pop.n), rng.normal(122, 13, pop.n)) + 0.2 * (
        age - 50
    )
    sbp = np.clip(sbp_level[p] + rng.normal(0, 8, len(p)), 85, 220).round(0)
    dbp = np.clip(0.45 * sbp + rng.normal(20, 6, len(p)), 45, 130).round(0)
    ids = code_ids((_MEASURES[1], _MEASURES[2]))
    parts.append((p, d, np.full(len(p), ids[0]), sbp))
    parts.append((p, d, np.full(len(p), ids[1]), dbp))
    p, d = poisson_events(rng, np.where(ok & adult, 0.3, 0), start, stop)
    bmi_level = rng.normal(27.5, 5, pop.n) + 0.6 * h.z
    bmi = np.clip(bmi_level[p] + rng.normal(0, 0.7, len(p)), 15, 60).round(1)
    parts.append((p, d, np.full(len(p), code_ids((_MEASURES[3],))[0]), bmi))

    # Type 1 opt-out: a practice-level rate around the configured mean; mostly recorded before the
    # period (so written in the first month), some new during it.
    prac_rate = config.type1_opt_out * rng.lognormal(0, 0.5, pop.practice0.max() + 1)
    prac_rate *= config.type1_opt_out / prac_rate.mean()
    t1 = ok & (rng.random(pop.n) < prac_rate[pop.practice0])
    who = np.flatnonzero(t1)
    early = rng.random(len(who)) < 0.8
    d = np.where(early, start[who], uniform_between(rng, start[who], stop[who]))
    parts.append((who, d, np.full(len(who), code_ids((TYPE1_OPT_OUT_SNOMED,))[0]), np.full(len(who), np.nan)))

    person = np.concatenate([x[0] for x in parts])
    day = np.concatenate([x[1] for x in parts])
    code = np.concatenate([x[2] for x in parts])
    value = np.concatenate([x[3] for x in parts])
    vocab_arr = np.array(vocab)
    units = np.array([_UNITS.get(c, "") for c in vocab])
    frame = pl.DataFrame(
        {
            "person": person.astype(np.int64),
            "date": day.astype(np.int64),
            "snomed_code": code.astype(np.int32),
            "value": value,
            "unit": code.astype(np.int32),
        }
    )
    return Activity("gp_events", frame, {"snomed_code": vocab_arr, "unit": units})


def gp_medications(cal: Calendar, pop: Population, h: Health, rng: np.random.Generator) -> Activity:
    """Repeat prescriptions for conditions: every 28 or 56 days from a random phase, some missed."""
    start, stop = registered_span(cal, pop)
    ok = stop >= start
    vocab = np.array(codelist("medications_dmd"))
    lookup = {c: i for i, c in enumerate(vocab)}
    persons, drugs = [], []
    for j, c in enumerate(CONDITIONS):
        if not c.medications:
            continue
        who = np.flatnonzero(h.conditions[:, j] & ok & (rng.random(pop.n) < 0.85))
        persons.append(who)
        drugs.append(np.full(len(who), lookup[c.medications[0]]))
        for extra in c.medications[1:]:
            more = who[rng.random(len(who)) < 0.25]
            persons.append(more)
            drugs.append(np.full(len(more), lookup[extra]))
    # Polypharmacy deficit and older people: a PPI and paracetamol for some.
    old = np.flatnonzero(ok & (pop.age_at(cal.start) >= 60) & (rng.random(pop.n) < 0.15))
    persons += [old]
    drugs += [np.full(len(old), lookup["317335000"])]
    person = np.concatenate(persons)
    drug = np.concatenate(drugs)
    interval = np.where(rng.random(len(person)) < 0.3, 28, 56)
    first = start[person] + (rng.random(len(person)) * interval).astype(np.int64)
    n_issue = np.maximum((stop[person] - first) // interval + 1, 0)
    rep = np.repeat(np.arange(len(person)), n_issue)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_issue) - n_issue, n_issue)
    day = first[rep] + k * interval[rep] + rng.integers(-3, 4, len(rep))
    keep = (rng.random(len(rep)) < 0.9) & (day >= start[person[rep]]) & (day <= stop[person[rep]])
    rep, day = rep[keep], day[keep]
    inhaler = np.isin(drug[rep], [lookup["320151006"], lookup["320136007"]])
    quantity = np.where(inhaler, 1.0, interval[rep].astype(float))
    frame = pl.DataFrame(
        {
            "person": person[rep].astype(np.int64),
            "date": day.astype(np.int64),
            "dmd_code": drug[rep].astype(np.int32),
            "quantity": quantity,
        }
    )
    return Activity("gp_medications", frame, {"dmd_code": vocab})
