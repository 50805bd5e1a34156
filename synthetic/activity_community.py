"""Community (CSDS), mental health (MHSDS) and adult social care (ASC CLD) activity."""

from __future__ import annotations

import numpy as np
import polars as pl

from synthetic.activity import Activity, by_band, calibrate, pick, poisson_events, uniform_between
from synthetic.codes import codelist
from synthetic.config import Calendar
from synthetic.health import CONDITION_NAMES, Health
from synthetic.people import Population

COMMUNITY_PROVIDER = "RZD"
MENTAL_HEALTH_PROVIDER = "RZE"
_COMM_AGE = (0.6, 0.15, 0.05, 0.1, 0.15, 0.3, 0.6, 1.6, 4.5, 9.0)
_TEAMS_ADULT = (
    "District Nursing",
    "Physiotherapy",
    "Podiatry",
    "Community Matron",
    "Speech and Language Therapy",
    "Occupational Therapy",
)
_MH_TEAMS = (
    "Community Mental Health Team - Functional",
    "Crisis Resolution Team/Home Treatment Service",
    "NHS Talking Therapies",
    "Early Intervention Team for Psychosis",
    "Memory Services/Clinic",
    "Older People Community Mental Health Team",
)
_SUPPORT = (
    "Physical Support: Personal Care Support",
    "Physical Support: Access and Mobility Only",
    "Sensory Support: Support for Visual Impairment",
    "Social Support: Support for Social Isolation/Other",
    "Support with Memory and Cognition",
    "Learning Disability Support",
    "Mental Health Support",
)
_SERVICES = (
    "Long Term Support: Community: Home Support",
    "Long Term Support: Community: Direct Payment",
    "Long Term Support: Residential",
    "Long Term Support: Nursing",
    "Short Term Support: ST-Max",
    "Short Term Support: Other Short Term Support",
)


def _cond(h: Health, name: str) -> np.ndarray:
    return h.conditions[:, CONDITION_NAMES.index(name)]


def csds(cal: Calendar, pop: Population, h: Health, rng: np.random.Generator) -> Activity:
    age = np.maximum(pop.age_at(cal.start), 0)
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    raw = by_band(_COMM_AGE, age) * (1 + 5 * h.efi) * np.exp(0.2 * h.z)
    rate = calibrate(raw, (exit_ - entry + 1).clip(0) / 365.25, 2.0)
    person, day = poisson_events(rng, rate, entry, exit_)
    n = len(person)
    team_of = np.where(
        age < 5,
        "Health Visiting",
        np.where(
            age < 16, "School Nursing", np.array(_TEAMS_ADULT)[pick(rng, pop.n, [40, 15, 15, 10, 5, 15])]
        ),
    )
    first = np.full(pop.n, np.iinfo(np.int64).max)
    np.minimum.at(first, person, day)
    referral = first - rng.integers(0, 43, pop.n)
    u = rng.random(n)
    frame = pl.DataFrame(
        {
            "person": person.astype(np.int64),
            "date": day,
            "provider_code": np.full(n, COMMUNITY_PROVIDER),
            "referral_seq": person.astype(np.int64),
            "referral_date": referral[person],
            "team_type": team_of[person],
            "attended": np.where(u < 0.05, "3", np.where(u < 0.08, "2", np.where(u < 0.1, "6", "5"))),
        }
    )
    return Activity("csds", frame)


def mhsds(cal: Calendar, pop: Population, h: Health, rng: np.random.Generator) -> Activity:
    """Referrals (about 3% of people a year), their contacts, and some inpatient spells."""
    age = np.maximum(pop.age_at(cal.start), 0)
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    dep, smi, dem = _cond(h, "depression"), _cond(h, "smi"), _cond(h, "dementia")
    raw = (
        (1 + 3 * dep + 12 * smi + 4 * dem)
        * np.exp(0.3 * h.z)
        * np.where(age < 10, 0.2, np.where(age >= 70, 0.6, 1.0))
    )
    rate = calibrate(raw, (exit_ - entry + 1).clip(0) / 365.25, 0.03)
    rp, rd = poisson_events(rng, rate, entry, exit_)
    nr = len(rp)
    team = np.where(
        dem[rp] & (age[rp] >= 65),
        4,
        np.where(
            smi[rp],
            pick(rng, nr, [50, 20, 0, 30, 0, 0]),
            np.where(age[rp] >= 70, 5, pick(rng, nr, [35, 10, 55, 0, 0, 0])),
        ),
    )
    f_codes = np.array(codelist("mental_health_icd10"))
    diag = np.where(
        dem[rp],
        "F03X",
        np.where(
            smi[rp],
            np.where(rng.random(nr) < 0.6, "F209", "F319"),
            np.where(
                dep[rp],
                f_codes[pick(rng, nr, [5, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0])],
                f_codes[rng.integers(0, len(f_codes), nr)],
            ),
        ),
    )
    closure = rd + rng.integers(30, 366, nr)
    closure_known = closure <= exit_[rp]
    # Contacts within the referral.
    n_contacts = 1 + rng.poisson(np.where(team == 2, 5, 7))
    rep = np.repeat(np.arange(nr), n_contacts)
    hi = np.where(closure_known, closure, exit_[rp])[rep]
    cday = uniform_between(rng, rd[rep], np.maximum(rd[rep], hi))
    keep = cday <= exit_[rp[rep]]
    rep, cday = rep[keep], cday[keep]
    # Inpatient spells for a few referrals, most for psychosis.
    spell = rng.random(nr) < np.where(smi[rp], 0.2, 0.02)
    si = np.flatnonzero(spell)
    sstart = rd[si] + rng.integers(0, 60, len(si))
    send = sstart + rng.exponential(35, len(si)).astype(np.int64) + 1
    sok = sstart <= exit_[rp[si]]
    si, sstart, send = si[sok], sstart[sok], send[sok]
    send_known = send <= exit_[rp[si]]

    def part(idx: np.ndarray, kind: str, start: np.ndarray, end: np.ndarray | None) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "person": rp[idx].astype(np.int64),
                "date": start,
                "record_type": np.full(len(idx), kind),
                "referral_seq": idx.astype(np.int64),
                "end_date": pl.Series(
                    end if end is not None else np.full(len(idx), -1), dtype=pl.Int64
                ).replace(-1, None),
                "team_type": np.array(_MH_TEAMS)[team[idx]],
                "primary_diagnosis": diag[idx],
            }
        )

    frame = pl.concat(
        [
            part(np.arange(nr), "REFERRAL", rd, np.where(closure_known, closure, -1)),
            part(rep, "CONTACT", cday, None),
            part(si, "SPELL", sstart, np.where(send_known, send, -1)),
        ]
    ).with_columns(provider_code=pl.lit(MENTAL_HEALTH_PROVIDER))
    return Activity("mhsds", frame)


def asc_cld(cal: Calendar, pop: Population, h: Health, rng: np.random.Generator) -> Activity:
    """One care journey per person at most: request, assessment, often a service, sometimes a review."""
    age = pop.age_at(cal.start)
    entry, exit_ = pop.entry(cal), pop.exit(cal)
    annual = np.where(
        age < 18, 0, np.where(age < 65, 0.006, np.where(age < 80, 0.03, np.where(age < 90, 0.10, 0.25)))
    )
    annual = (
        annual
        * (1 + 2 * h.efi)
        * np.exp(0.2 * h.z)
        * (1 + 10 * _cond(h, "learning_disability") * (age >= 18))
    )
    years = (exit_ - entry + 1).clip(0) / 365.25
    who = np.flatnonzero((rng.random(pop.n) < 1 - np.exp(-annual * years)) & (years > 0))
    req = uniform_between(rng, entry[who], exit_[who])
    m = len(who)
    assess = req + rng.integers(3, 29, m)
    assess_end = assess + rng.integers(7, 36, m)
    has_service = rng.random(m) < 0.65
    svc = assess_end + rng.integers(0, 15, m)
    long_term = rng.random(m) < 0.6
    svc_kind = np.where(long_term, pick(rng, m, [50, 20, 15, 15, 0, 0]), 4 + rng.integers(0, 2, m))
    svc_end = np.where(long_term, -1, svc + rng.integers(14, 91, m))
    review = svc + rng.integers(180, 366, m)
    has_review = has_service & long_term & (rng.random(m) < 0.6)
    reason = np.where(
        _cond(h, "learning_disability")[who],
        5,
        np.where(
            _cond(h, "dementia")[who], 4, np.where(_cond(h, "smi")[who], 6, pick(rng, m, [60, 25, 5, 10]))
        ),
    )

    def part(
        mask: np.ndarray, kind: str, start: np.ndarray, end: np.ndarray, service: np.ndarray | None
    ) -> pl.DataFrame:
        idx = np.flatnonzero(mask & (start <= exit_[who]))
        end_i = end[idx]
        end_i = np.where((end_i > exit_[who][idx]) | (end_i > cal.end), -1, end_i)
        return pl.DataFrame(
            {
                "person": who[idx].astype(np.int64),
                "date": start[idx],
                "event_type": np.full(len(idx), kind),
                "event_end": pl.Series(end_i, dtype=pl.Int64).replace(-1, None),
                "support_reason": np.array(_SUPPORT)[reason[idx]],
                "service_type": np.array(_SERVICES)[service[idx]]
                if service is not None
                else np.full(len(idx), ""),
            }
        )

    every = np.ones(m, bool)
    frame = pl.concat(
        [
            part(every, "Request", req, req, None),
            part(every, "Assessment", assess, assess_end, None),
            part(has_service, "Service", svc, svc_end, svc_kind),
            part(has_review, "Review", review, review, None),
        ]
    )
    return Activity("asc_cld", frame)
