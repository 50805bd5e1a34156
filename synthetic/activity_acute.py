"""Acute hospital activity: emergency and elective admissions (APC), A&E (ECDS), outpatients.

Emergency admissions in the final 12 months are the oracle outcome: Bernoulli(p_emerg) per
eligible person, then 1 + Poisson(0.45) admissions. Earlier admissions follow the same hazard.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synthetic.activity import Activity, by_band, calibrate, pick, pick_code, poisson_events, uniform_between
from synthetic.codes import codelist
from synthetic.config import Calendar
from synthetic.health import CONDITIONS, Health
from synthetic.people import Population

PROVIDERS = ("RZA", "RZB", "RZC")  # acute trusts by place; fictitious ODS-style codes
_EMERG_METHODS = (
    ("21", 0.70),
    ("22", 0.12),
    ("23", 0.03),
    ("24", 0.03),
    ("28", 0.05),
    ("2A", 0.03),
    ("2B", 0.02),
    ("2D", 0.02),
)
_ELECTIVE_METHODS = (("11", 0.55), ("12", 0.30), ("13", 0.15))
_OP_AGE = (0.6, 0.5, 0.7, 0.8, 1.0, 1.3, 1.7, 2.1, 2.2, 2.0)
_AE_AGE = (0.55, 0.35, 0.55, 0.45, 0.40, 0.40, 0.45, 0.60, 0.90, 1.20)
_EL_AGE = (0.03, 0.03, 0.05, 0.07, 0.10, 0.17, 0.25, 0.33, 0.30, 0.20)
_SPECIALTY = (
    "100",
    "101",
    "110",
    "120",
    "130",
    "300",
    "301",
    "307",
    "320",
    "330",
    "340",
    "400",
    "410",
    "430",
    "502",
)
_SPECIALTY_W = (10, 6, 12, 6, 10, 8, 6, 3, 8, 6, 5, 4, 3, 4, 6)


def _place_provider(pop: Population, place_of_lsoa: np.ndarray, person: np.ndarray) -> np.ndarray:
    return np.array(PROVIDERS)[place_of_lsoa[pop.lsoa0[person]]]


def emergency_admissions(
    cal: Calendar, pop: Population, h: Health, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(person, admission day) of every emergency admission; the oracle outcome is realised here."""
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    ws = cal.window_start
    out_p, out_d = [], []
    for lo, hi, exact in ((cal.start, ws - 1, False), (ws, cal.end, True)):
        s, e = np.maximum(entry, lo), np.minimum(exit_, hi)
        alive = e >= s
        frac = np.clip((e - s + 1) / 365.25, 0, 1)
        p = (
            np.where(exact & h.eligible, h.p_emerg, 1 - (1 - h.p_emerg) ** frac)
            if exact
            else 1 - (1 - h.p_emerg) ** frac
        )
        hit = alive & (rng.random(pop.n) < p)
        count = np.where(hit, 1 + rng.poisson(0.45, pop.n), 0)
        person = np.repeat(np.arange(pop.n), count)
        out_p.append(person)
        out_d.append(uniform_between(rng, s[person], e[person]))
    return np.concatenate(out_p), np.concatenate(out_d)


def _condition_icd(rng: np.random.Generator, h: Health, person: np.ndarray, slots: int) -> np.ndarray:
    """Up to ``slots`` ICD-10 codes from each row's person's conditions, in random condition order."""
    out = np.full((len(person), slots), "", dtype=object)
    filled = np.zeros(len(person), dtype=np.int64)
    for j in rng.permutation(len(CONDITIONS)):
        codes = np.array(codelist(f"{CONDITIONS[j].name}_icd10"))
        has = h.conditions[person, j] & (filled < slots)
        idx = np.flatnonzero(has)
        out[idx, filled[idx]] = codes[pick_code(rng, len(idx), len(codes))]
        filled[idx] += 1
    return out


def apc(
    cal: Calendar, pop: Population, h: Health, lsoa_place: np.ndarray, rng: np.random.Generator
) -> tuple[Activity, pl.DataFrame, np.ndarray]:
    """APC episodes, the A&E attendances that led to emergency admissions (for ECDS), and the
    realised oracle outcome (any emergency admission in the final 12 months) per person."""
    ep, ed = emergency_admissions(cal, pop, h, rng)
    outcome = np.bincount(ep[ed >= cal.window_start], minlength=pop.n) > 0
    age = np.maximum(pop.age_at(cal.start), 0)
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    raw = by_band(_EL_AGE, age) * (1 + 0.15 * h.n_conditions)
    rate = calibrate(raw, (exit_ - entry + 1).clip(0) / 365.25, 0.15)
    lp, ld = poisson_events(rng, rate, entry, exit_)
    person = np.concatenate([ep, lp])
    adm = np.concatenate([ed, ld])
    emerg = np.concatenate([np.ones(len(ep), bool), np.zeros(len(lp), bool)])
    n = len(person)
    order = np.lexsort((person, adm))
    person, adm, emerg = person[order], adm[order], emerg[order]
    a = age[person]
    los = np.where(
        emerg,
        rng.exponential(2.0 + 0.08 * np.maximum(a - 50, 0)),
        np.where(rng.random(n) < 0.6, 0, rng.integers(1, 6, n)),
    )
    dis = adm + los.astype(np.int64)
    died = dis >= pop.death[person]
    dis = np.minimum(dis, pop.death[person])
    method = np.where(
        emerg,
        np.array([m for m, _ in _EMERG_METHODS])[pick(rng, n, [w for _, w in _EMERG_METHODS])],
        np.array([m for m, _ in _ELECTIVE_METHODS])[pick(rng, n, [w for _, w in _ELECTIVE_METHODS])],
    )
    # Diagnoses: emergency ones often an exacerbation of a known condition; elective ones with a procedure.
    cond = _condition_icd(rng, h, person, 4)
    general = np.array(codelist("emergency_general_icd10"))
    gen_pick = general[pick_code(rng, n, len(general) - 1, first=0.2)]  # never the maternity code
    opcs = np.array(codelist("elective_opcs4"))
    el_icd = np.array(codelist("elective_icd10"))
    proc = rng.integers(0, len(opcs), n)
    male = pop.sex[person] == 0
    proc = np.where((proc == 8) & ~male, 9, np.where((proc == 9) & male, 8, proc))  # TURP / hysterectomy
    use_cond = emerg & (cond[:, 0] != "") & (rng.random(n) < 0.55)
    diag1 = np.where(emerg, np.where(use_cond, cond[:, 0], gen_pick), el_icd[proc])
    secondary = np.where(use_cond[:, None], np.roll(cond, -1, axis=1), cond)[:, :3]

    n_epi = 1 + (rng.random(n) < 0.13).astype(np.int64) + (rng.random(n) < 0.03)
    n_epi = np.where(dis - adm >= n_epi - 1, n_epi, 1)
    spell = np.arange(n)
    rep = np.repeat(spell, n_epi)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_epi) - n_epi, n_epi)
    length = dis[rep] - adm[rep]
    epi_start = adm[rep] + (k * length) // n_epi[rep]
    epi_end = np.where(k + 1 == n_epi[rep], dis[rep], adm[rep] + ((k + 1) * length) // n_epi[rep])
    last = k + 1 == n_epi[rep]
    open_ = epi_end[:] > cal.end
    frame = pl.DataFrame(
        {
            "person": person[rep].astype(np.int64),
            "date": epi_start,
            "provider_code": _place_provider(pop, lsoa_place, person[rep]),
            "spell_seq": rep.astype(np.int64),
            "episode_order": (k + 1).astype(str),
            "admission_date": adm[rep],
            "admission_method": method[rep],
            "admission_source": np.full(len(rep), "19"),
            "episode_start": epi_start,
            "episode_end": pl.Series(np.where(open_, -1, epi_end)).replace(-1, None),
            "discharge_date": pl.Series(np.where(last & ~open_, dis[rep], -1)).replace(-1, None),
            "discharge_method": np.where(last & ~open_, np.where(died[rep], "4", "1"), ""),
            "diag_01": diag1[rep].astype(str),
            "diag_02": secondary[rep, 0].astype(str),
            "diag_03": secondary[rep, 1].astype(str),
            "diag_04": secondary[rep, 2].astype(str),
            "opertn_01": np.where(emerg[rep], "", opcs[proc[rep]]),
            "opertn_02": np.full(len(rep), ""),
            "opertn_03": np.full(len(rep), ""),
        }
    )
    via_ae = emerg & (method == "21")
    ae = pl.DataFrame(
        {
            "person": person[via_ae].astype(np.int64),
            "date": adm[via_ae],
            "admitted": np.ones(via_ae.sum(), bool),
        }
    )
    return Activity("apc", frame), ae, outcome


def ecds(
    cal: Calendar,
    pop: Population,
    h: Health,
    lsoa_place: np.ndarray,
    admitted: pl.DataFrame,
    rng: np.random.Generator,
) -> Activity:
    age = np.maximum(pop.age_at(cal.start), 0)
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    raw = by_band(_AE_AGE, age) * np.exp(0.45 * h.z) * (1 + 0.1 * h.n_conditions) * (1 + h.efi)
    n_adm = admitted.height
    target = max(0.45 - n_adm / max(float(((exit_ - entry + 1).clip(0) / 365.25).sum()), 1), 0.05)
    rate = calibrate(raw, (exit_ - entry + 1).clip(0) / 365.25, target)
    p, d = poisson_events(rng, rate, entry, exit_)
    person = np.concatenate([p, admitted["person"].to_numpy()])
    day = np.concatenate([d, admitted["date"].to_numpy()])
    adm = np.concatenate([np.zeros(len(p), bool), np.ones(n_adm, bool)])
    n = len(person)
    hour = np.clip(rng.normal(14, 4.5, n), 0, 23.99)
    minute = rng.integers(0, 60, n)
    complaint = np.array(codelist("ecds_chief_complaint_snomed"))
    diagnosis = np.array(codelist("ecds_diagnosis_snomed"))
    acuity = np.array(codelist("ecds_acuity_snomed"))
    mode = np.array(codelist("ecds_arrival_mode_snomed"))
    dest = np.array(codelist("ecds_discharge_destination_snomed"))
    acu = np.where(adm, pick(rng, n, [8, 35, 40, 15, 2]), pick(rng, n, [1, 10, 35, 40, 14]))
    amb = rng.random(n) < np.where(adm, 0.6, 0.2) + 0.004 * age[person]
    departure = day + ((hour + rng.exponential(4, n)) >= 24)
    frame = pl.DataFrame(
        {
            "person": person.astype(np.int64),
            "date": day,
            "provider_code": _place_provider(pop, lsoa_place, person),
            "arrival_time": [f"{int(a):02d}:{int(b):02d}" for a, b in zip(hour, minute, strict=True)],
            "arrival_mode": np.where(amb, mode[0], mode[1 + rng.integers(0, 2, n)]),
            "acuity": acuity[acu],
            "chief_complaint": complaint[rng.integers(0, len(complaint), n)],
            "diagnosis": diagnosis[rng.integers(0, len(diagnosis), n)],
            "departure_date": np.minimum(departure, pop.death[person]),
            "discharge_destination": np.where(
                adm, dest[1], dest[np.where(rng.random(n) < 0.92, 0, 2 + rng.integers(0, 2, n))]
            ),
        }
    )
    return Activity("ecds", frame)


def outpatients(
    cal: Calendar, pop: Population, h: Health, lsoa_place: np.ndarray, rng: np.random.Generator
) -> Activity:
    age = np.maximum(pop.age_at(cal.start), 0)
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    raw = by_band(_OP_AGE, age) * (1 + 0.25 * h.n_conditions) * np.exp(0.2 * h.z)
    rate = calibrate(raw, (exit_ - entry + 1).clip(0) / 365.25, 2.0)
    person, day = poisson_events(rng, rate, entry, exit_)
    n = len(person)
    dna = 0.05 + 0.012 * (5.5 - h.imd[person])
    u = rng.random(n)
    attended = np.where(
        u < dna,
        "3",
        np.where(u < dna + 0.02, "2", np.where(u < dna + 0.03, "4", np.where(u < dna + 0.05, "6", "5"))),
    )
    spec = np.array(_SPECIALTY)[pick(rng, n, _SPECIALTY_W)]
    spec = np.where(age[person] < 16, "420", spec)
    frame = pl.DataFrame(
        {
            "person": person.astype(np.int64),
            "date": day,
            "provider_code": _place_provider(pop, lsoa_place, person),
            "attended": attended,
            "first_attendance": np.where(rng.random(n) < 0.35, "1", "2"),
            "treatment_specialty": spec,
        }
    )
    return Activity("outpatients", frame)
