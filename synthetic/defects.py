"""Data defects injected into extract rows, at rates from `DefectRates`.

Each function takes the rows' clean string values and returns the dirty ones plus a mask of the
rows it changed, so the truth records can say exactly which defect every row carries.
"""

from __future__ import annotations

import calendar as _calendar

import numpy as np
import polars as pl

from synthetic.codes import all_codes
from synthetic.config import DefectRates
from synthetic.nhs_numbers import corrupt_check_digit

DEFECTS = (
    "nhs_missing",
    "nhs_bad_check_digit",
    "nhs_formatted",
    "ethnicity_missing",
    "duplicate",
    "bad_date",
    "unknown_code",
    "messy_code",
    "malformed_line",
    "misspelt_name",
    "swapped_names",
    "transposed_dob",
    "stale_postcode",
)
SECONDARY_CARE = frozenset({"apc", "ecds", "outpatients", "csds", "mhsds"})
GP = frozenset({"gp_patients", "gp_events", "gp_medications"})
# The column whose code the unknown-code and messy-code defects hit, with its code system.
CODE_COLUMN = {
    "gp_events": ("snomed_code", "snomed"),
    "gp_medications": ("dmd_code", "snomed"),
    "apc": ("diag_01", "icd10"),
    "ecds": ("diagnosis", "snomed"),
    "mhsds": ("primary_diagnosis", "icd10"),
}


def missing_nhs_rate(source: str, r: DefectRates) -> float:
    return 0.0 if source in GP else r.missing_nhs_asc if source == "asc_cld" else r.missing_nhs_other


def ethnicity_rate(source: str, r: DefectRates) -> float:
    if source in ("apc", "ecds", "outpatients"):
        return r.missing_ethnicity_acute
    if source in ("csds", "mhsds"):
        return r.missing_ethnicity_community
    return r.missing_ethnicity_asc if source == "asc_cld" else 0.0


def nhs_strings(
    source: str, nhs: np.ndarray, r: DefectRates, rng: np.random.Generator
) -> tuple[pl.Series, dict[str, np.ndarray]]:
    n = len(nhs)
    missing = rng.random(n) < missing_nhs_rate(source, r)
    bad = ~missing & (rng.random(n) < (r.bad_check_digit if source in SECONDARY_CARE else 0.0))
    fmt = ~missing & (rng.random(n) < (0.0 if source in GP else r.nhs_formatted))
    values = np.where(bad, corrupt_check_digit(nhs, rng), nhs)
    s = pl.Series(values).cast(pl.String)
    idx = np.flatnonzero(fmt)
    if len(idx):
        sub = s.gather(idx)
        sep = np.where(rng.random(len(idx)) < 0.7, " ", "-")
        sepl = pl.Series(sep)
        s = s.scatter(idx, sub.str.slice(0, 3) + sepl + sub.str.slice(3, 3) + sepl + sub.str.slice(6, 4))
    s = s.scatter(np.flatnonzero(missing), None)
    return s, {"nhs_missing": missing, "nhs_bad_check_digit": bad, "nhs_formatted": fmt}


def blank(s: pl.Series, mask: np.ndarray) -> pl.Series:
    return s.scatter(np.flatnonzero(mask), None) if mask.any() else s


def bad_dates(
    days: np.ndarray, fmt: str, month_end: int, rng: np.random.Generator, rate: float
) -> tuple[np.ndarray, pl.Series]:
    """Mask and replacement strings: half impossible calendar dates in the row's month, half after the file's month."""
    mask = rng.random(len(days)) < rate
    idx = np.flatnonzero(mask)
    dt = days[idx].astype("datetime64[D]")
    years = dt.astype("datetime64[Y]").astype(int) + 1970
    months = dt.astype("datetime64[M]").astype(int) % 12 + 1
    out: list[str] = []
    future = rng.random(len(idx)) < 0.5
    ahead = month_end + rng.integers(30, 900, len(idx))
    for y, m, f, a in zip(years, months, future, ahead, strict=True):
        if f:
            out.append(str(np.datetime64(int(a), "D").astype(object).strftime(fmt)))
        else:
            day = _calendar.monthrange(int(y), int(m))[1] + 1
            out.append(fmt.replace("%Y", f"{y:04d}").replace("%m", f"{m:02d}").replace("%d", f"{day:02d}"))
    return mask, pl.Series(out, dtype=pl.String)


def unknown_codes(system: str, n: int, rng: np.random.Generator) -> pl.Series:
    known = all_codes()
    out: list[str] = []
    while len(out) < n:
        if system == "icd10":
            c = f"{chr(ord('A') + int(rng.integers(0, 26)))}{int(rng.integers(0, 1000)):03d}"
        else:
            c = str(int(rng.integers(100_000_000, 900_000_000)))
        if c not in known:
            out.append(c)
    return pl.Series(out, dtype=pl.String)


def messy(s: pl.Series, idx: np.ndarray, rng: np.random.Generator) -> pl.Series:
    sub = s.gather(idx).fill_null("")
    lower = pl.Series(rng.random(len(idx)) < 0.5)
    return s.scatter(
        idx,
        pl.select(
            pl.when(lower).then(sub.str.to_lowercase()).otherwise(pl.lit(" ") + sub + pl.lit(" "))
        ).to_series(),
    )


def misspell(names: list[str], rng: np.random.Generator) -> list[str]:
    """One-character edit: substitution, deletion, insertion or swap of neighbours."""
    out = []
    for name in names:
        if len(name) < 3:
            out.append(name + "e")
            continue
        i = int(rng.integers(1, len(name) - 1))
        kind = int(rng.integers(0, 4))
        letter = chr(ord("a") + int(rng.integers(0, 26)))
        if kind == 0:
            new = name[:i] + (letter if letter != name[i] else "x") + name[i + 1 :]
        elif kind == 1:
            new = name[:i] + name[i + 1 :]
        elif kind == 2:
            new = name[:i] + letter + name[i:]
        else:
            new = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        out.append(new if new != name else name + letter)
    return out


def transpose_dob(days: np.ndarray, fmt: str) -> list[str]:
    """Day/month swapped where that gives another real date, else the last two year digits swapped."""
    out = []
    for d in days:
        date = np.datetime64(int(d), "D").astype(object)
        if date.day <= 12 and date.day != date.month:
            out.append(date.replace(day=date.month, month=date.day).strftime(fmt))
        else:
            y = f"{date.year:04d}"
            swapped = y[:2] + y[3] + y[2]
            if swapped == y:
                swapped = y[:2] + str((int(y[2]) + 1) % 10) + y[3]
            out.append(
                fmt.replace("%Y", swapped).replace("%m", f"{date.month:02d}").replace("%d", f"{date.day:02d}")
            )
    return out
