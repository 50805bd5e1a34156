"""Latent risk, long-term conditions, frailty deficits, deaths and the emergency-admission oracle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.codes import efi_deficits
from synthetic.config import Calendar
from synthetic.geography import Geography
from synthetic.people import NEVER, Population


@dataclass(frozen=True)
class Condition:
    name: str
    prevalence: tuple[float, ...]  # by age band 0-9, 10-19, ..., 90+
    male: float = 1.0  # sex multipliers
    female: float = 1.0
    beta: float = 0.4  # effect of the latent risk
    medications: tuple[str, ...] = ()  # dm+d codes; the first is always issued
    deficit: str | None = None  # eFI deficit the condition counts as


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "hypertension",
        (0, 0.002, 0.009, 0.035, 0.105, 0.22, 0.35, 0.48, 0.54, 0.57),
        1.05,
        0.95,
        0.45,
        ("319283006", "318900002", "320000009"),
        "Hypertension",
    ),
    Condition(
        "diabetes",
        (0.001, 0.003, 0.008, 0.025, 0.05, 0.09, 0.135, 0.17, 0.17, 0.15),
        1.15,
        0.85,
        0.55,
        ("325278007", "409305002", "320000009"),
        "Diabetes",
    ),
    Condition(
        "asthma",
        (0.045, 0.085, 0.065, 0.06, 0.06, 0.065, 0.07, 0.075, 0.07, 0.06),
        0.95,
        1.05,
        0.3,
        ("320151006", "320136007"),
        "Respiratory disease",
    ),
    Condition(
        "copd",
        (0, 0, 0, 0.002, 0.01, 0.03, 0.06, 0.09, 0.10, 0.09),
        1.1,
        0.9,
        0.8,
        ("407922000", "320151006"),
        "Respiratory disease",
    ),
    Condition(
        "chd",
        (0, 0, 0, 0.002, 0.01, 0.04, 0.08, 0.14, 0.18, 0.20),
        1.4,
        0.6,
        0.5,
        ("319770002", "320000009"),
        "Ischaemic heart disease",
    ),
    Condition(
        "heart_failure",
        (0, 0, 0, 0, 0.002, 0.006, 0.015, 0.04, 0.08, 0.12),
        1.2,
        0.8,
        0.5,
        ("318590006", "317972000"),
        "Heart failure",
    ),
    Condition(
        "atrial_fibrillation",
        (0, 0, 0, 0.001, 0.004, 0.015, 0.04, 0.09, 0.15, 0.18),
        1.2,
        0.8,
        0.3,
        ("703907004", "318590006"),
        "Atrial fibrillation",
    ),
    Condition(
        "ckd",
        (0, 0, 0, 0.003, 0.01, 0.03, 0.07, 0.15, 0.28, 0.38),
        0.9,
        1.1,
        0.4,
        (),
        "Chronic kidney disease",
    ),
    Condition(
        "stroke_tia",
        (0, 0, 0, 0.002, 0.006, 0.015, 0.035, 0.07, 0.11, 0.13),
        1.1,
        0.9,
        0.45,
        ("400484004", "320000009"),
        "Cerebrovascular disease",
    ),
    Condition(
        "dementia",
        (0, 0, 0, 0, 0.0005, 0.002, 0.008, 0.03, 0.10, 0.20),
        0.85,
        1.15,
        0.3,
        ("408166001",),
        "Memory and cognitive problems",
    ),
    Condition(
        "depression",
        (0, 0.03, 0.13, 0.15, 0.16, 0.16, 0.14, 0.12, 0.12, 0.12),
        0.75,
        1.25,
        0.35,
        ("321971005", "321988002"),
    ),
    Condition(
        "smi", (0, 0.001, 0.01, 0.012, 0.013, 0.012, 0.01, 0.008, 0.008, 0.008), 1.1, 0.9, 0.6, ("322165002",)
    ),
    Condition("cancer", (0, 0.001, 0.003, 0.008, 0.02, 0.045, 0.08, 0.12, 0.14, 0.14), 1.0, 1.0, 0.2, ()),
    Condition(
        "epilepsy",
        (0.004, 0.007, 0.008, 0.008, 0.008, 0.008, 0.009, 0.009, 0.009, 0.009),
        1.1,
        0.9,
        0.3,
        ("321702002",),
    ),
    Condition(
        "osteoporosis",
        (0, 0, 0, 0, 0.002, 0.008, 0.02, 0.045, 0.08, 0.10),
        0.3,
        1.7,
        0.2,
        ("330105002",),
        "Osteoporosis",
    ),
    Condition(
        "rheumatoid_arthritis",
        (0, 0.0005, 0.002, 0.004, 0.007, 0.011, 0.015, 0.018, 0.018, 0.016),
        0.6,
        1.4,
        0.2,
        ("324090008",),
        "Arthritis",
    ),
    Condition(
        "learning_disability",
        (0.004, 0.006, 0.006, 0.005, 0.005, 0.005, 0.004, 0.003, 0.002, 0.001),
        1.4,
        0.6,
        0.2,
    ),
)
CONDITION_NAMES = tuple(c.name for c in CONDITIONS)

# eFI deficits not implied by a condition above: prevalence at age 80 (before risk scaling).
_OTHER_DEFICIT_P80 = {
    "Activity limitation": 0.15,
    "Anaemia and haematinic deficiency": 0.15,
    "Arthritis": 0.35,
    "Dizziness": 0.12,
    "Dyspnoea": 0.15,
    "Falls": 0.15,
    "Foot problems": 0.15,
    "Fragility fracture": 0.07,
    "Hearing impairment": 0.25,
    "Heart valve disease": 0.06,
    "Housebound": 0.06,
    "Hypotension or syncope": 0.08,
    "Mobility and transfer problems": 0.10,
    "Parkinsonism and tremor": 0.04,
    "Peptic ulcer": 0.05,
    "Peripheral vascular disease": 0.05,
    "Polypharmacy": 0.35,
    "Requirement for care": 0.06,
    "Skin ulcer": 0.05,
    "Sleep disturbance": 0.12,
    "Social vulnerability": 0.12,
    "Thyroid disease": 0.10,
    "Urinary incontinence": 0.12,
    "Urinary system disease": 0.12,
    "Visual impairment": 0.12,
    "Weight loss and anorexia": 0.06,
}
DEFICITS = tuple(efi_deficits())


@dataclass
class Health:
    z: np.ndarray  # latent risk, ~N(0, 1), correlated with deprivation
    imd: np.ndarray  # IMD decile of the home LSOA at the start
    conditions: np.ndarray  # (n, n_conditions) bool
    deficits: np.ndarray  # (n, 36) bool
    age_start: np.ndarray  # age at the start of the oracle window (years, may be negative)
    p_emerg: np.ndarray  # oracle probability for the final 12 months (NaN if not eligible)
    eligible: np.ndarray  # alive at the start of the oracle window

    @property
    def n_conditions(self) -> np.ndarray:
        return self.conditions.sum(axis=1)

    @property
    def efi(self) -> np.ndarray:
        return self.deficits.sum(axis=1) / len(DEFICITS)


def _band(age: np.ndarray) -> np.ndarray:
    return np.clip(age // 10, 0, 9).astype(np.int64)


def build_health(cal: Calendar, geo: Geography, pop: Population, rng: np.random.Generator) -> Health:
    """Risk, conditions and frailty as at the start of the period, then deaths and the oracle."""
    n = pop.n
    imd = geo.lsoa_imd[pop.lsoa0]
    dep = (5.5 - imd) / 2.87
    z = 0.55 * dep + 0.835 * rng.standard_normal(n)
    age0 = np.maximum(pop.age_at(cal.start), 0.0)
    band = _band(age0)
    female = pop.sex == 1
    conditions = np.zeros((n, len(CONDITIONS)), dtype=bool)
    for j, c in enumerate(CONDITIONS):
        base = np.asarray(c.prevalence)[band] * np.where(female, c.female, c.male)
        p = np.minimum(base * np.exp(c.beta * z - c.beta**2 / 2), 0.95)
        conditions[:, j] = rng.random(n) < p

    frailty = 0.6 * rng.standard_normal(n)
    deficits = np.zeros((n, len(DEFICITS)), dtype=bool)
    for k, d in enumerate(DEFICITS):
        linked = [j for j, c in enumerate(CONDITIONS) if c.deficit == d]
        if linked:
            deficits[:, k] = conditions[:, linked].any(axis=1)
        if d in _OTHER_DEFICIT_P80:
            p = _OTHER_DEFICIT_P80[d] * np.exp(
                0.06 * (np.maximum(age0, 30) - 80) + 0.5 * z + 0.7 * frailty - 0.3
            )
            deficits[:, k] |= rng.random(n) < np.minimum(p, 0.9)
    health = Health(z, imd, conditions, deficits, np.zeros(n), np.full(n, np.nan), np.zeros(n, bool))
    _draw_deaths(cal, pop, health, age0, rng)
    _oracle(cal, pop, health)
    return health


def _draw_deaths(
    cal: Calendar, pop: Population, h: Health, age0: np.ndarray, rng: np.random.Generator
) -> None:
    name = {c: j for j, c in enumerate(CONDITION_NAMES)}
    c = h.conditions
    log_h = (
        -10.85
        + 0.088 * age0
        + 0.3 * h.z
        + 2.5 * h.efi
        + 0.08 * h.n_conditions
        + 1.1 * c[:, name["cancer"]]
        + 0.9 * c[:, name["dementia"]]
        + 0.8 * c[:, name["heart_failure"]]
    )
    log_h = np.where(age0 < 1, np.log(0.004), log_h)  # infant mortality
    hazard = np.exp(log_h)  # per year
    entry = pop.entry(cal)
    t = rng.exponential(1.0, pop.n) / hazard * 365.25
    death = entry + t.astype(np.int64)
    pop.death = np.where(death <= cal.end, death, NEVER)


# Oracle coefficients (logit scale); the intercept is calibrated to the target mean.
ORACLE_TARGET_MEAN = 0.075  # share with >= 1 emergency admission in 12 months


def oracle_logit(
    age: np.ndarray, male: np.ndarray, n_cond: np.ndarray, efi: np.ndarray, imd: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """The known log-odds of an emergency admission in 12 months, before the intercept."""
    return (
        0.028 * age
        + 1.2 * (age < 1)
        + 0.12 * male
        + 0.25 * np.minimum(n_cond, 6)
        + 3.5 * efi
        + 0.08 * (5.5 - imd)
        + 0.6 * z
    )


def _oracle(cal: Calendar, pop: Population, h: Health) -> None:
    ws = cal.window_start
    h.eligible = (pop.dob < ws) & (pop.death >= ws)
    h.age_start = pop.age_at(ws)
    lin = oracle_logit(np.maximum(h.age_start, 0), pop.sex == 0, h.n_conditions, h.efi, h.imd, h.z)
    lo, hi = -15.0, 5.0
    for _ in range(60):  # bisection for the intercept (deterministic)
        mid = (lo + hi) / 2
        mean = (1 / (1 + np.exp(-(mid + lin[h.eligible])))).mean()
        lo, hi = (mid, hi) if mean < ORACLE_TARGET_MEAN else (lo, mid)
    p = 1 / (1 + np.exp(-((lo + hi) / 2 + lin)))
    h.p_emerg = p  # defined for everyone; NaN-ed for the ineligible in truth
