"""Data for the tracing benchmark and spec tests: a seeded GP master and records with injected errors.

The names come from the synthetic generator's tables (so they look like the ICS's people), and each
record keeps the error injected into it and the true NHS number, so tracing can be scored record by
record. Seeded numpy only (no global random): same seed, same frames.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from linkage.trace import NHS_NUMBER
from synthetic.names import FAMILY, GIVEN_FEMALE, GIVEN_MALE, ORIGINS

ERROR_SETTINGS = ("tuned", "unseen")


def synthetic_trace_data(
    persons: int, unlinked: int, seed: int, errors: str = "tuned"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A seeded GP master (`linkage.build_master` shape) and records without NHS numbers, with truth.

    Records: 90 % are master people with injected errors (one-character name edit, given/family swapped,
    day/month swapped DOB, digit transposition in the DOB, stale postcode, missing postcode, or none),
    10 % are people not in the master. `true_nhs_number` holds the truth (null for the latter) and
    `error` the injected error; callers drop both before tracing.

    `errors="unseen"` draws error types and rates the matcher was never tuned on (`_UNSEEN`): two-letter
    name typos, truncated or double-barrelled family names, a given name cut to its first four letters,
    a random DOB digit changed, the birth year off by one, a postcode character mistyped, missing given
    name; half the erroneous records carry a second error in another field.
    """
    if errors not in ERROR_SETTINGS:
        raise ValueError(f"errors must be one of {ERROR_SETTINGS}")
    rng = np.random.default_rng(seed)
    weights = np.array([0.62, 0.05, 0.06, 0.06, 0.07, 0.04, 0.03, 0.03, 0.02, 0.02])
    total = persons + unlinked

    def names(sex: np.ndarray, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        given = np.empty(len(sex), dtype=object)
        family = np.empty(len(sex), dtype=object)
        for i, o in enumerate(ORIGINS):
            for s, table in (("M", GIVEN_MALE), ("F", GIVEN_FEMALE)):
                idx = np.flatnonzero((origin == i) & (sex == s))
                pool = np.array(table[o], dtype=object)
                given[idx] = pool[rng.integers(0, len(pool), idx.size)]
            idx = np.flatnonzero(origin == i)
            pool = np.array(FAMILY[o], dtype=object)
            family[idx] = pool[rng.integers(0, len(pool), idx.size)]
        return given, family

    origin = rng.choice(len(ORIGINS), size=total, p=weights / weights.sum())
    sex = np.where(rng.random(total) < 0.5, "M", "F")
    given, family = names(sex, origin)
    dob = np.datetime64("1925-01-01") + rng.integers(0, 36_500, total).astype("timedelta64[D]")
    n_pc = max(total // 25, 10)
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    pc_all = np.array(
        [
            f"Q{'ABC'[a]}{d} {s}{letters[u1]}{letters[u2]}"
            for a, d, s, u1, u2 in zip(
                rng.integers(0, 3, n_pc), rng.integers(1, 99, n_pc), rng.integers(0, 10, n_pc),
                rng.integers(0, 20, n_pc), rng.integers(0, 20, n_pc), strict=True,
            )
        ]
    )  # fmt: skip
    current = pc_all[rng.integers(0, n_pc, total)]
    moved = rng.random(total) < 0.3
    previous = pc_all[rng.integers(0, n_pc, total)].astype(object)
    previous[~moved] = None
    nhs = (9_990_000_000 + rng.permutation(9_999_999)[:total]).astype(str)

    in_master = np.arange(persons)
    master = pl.DataFrame(
        {
            NHS_NUMBER: nhs[in_master],
            "given_name": [g.upper() for g in given[in_master]],
            "family_name": [f.upper().replace("'", "") for f in family[in_master]],
            "date_of_birth": dob[in_master],
            "sex": sex[in_master],
            "postcode": current[in_master],
            "postcode_history": [
                sorted({c, p}) if p is not None else [c]
                for c, p in zip(current[in_master], previous[in_master], strict=True)
            ],
        }
    ).with_columns(pl.col("date_of_birth").cast(pl.Date))

    n_in = int(round(unlinked * 0.9))
    who = np.concatenate([rng.choice(persons, n_in, replace=False), persons + np.arange(unlinked - n_in)])
    errors_tuned = np.array(["none", "name_edit", "swap_names", "dob_day_month", "dob_transpose",
                             "stale_postcode", "missing_postcode"])  # fmt: skip
    probs = [0.1, 0.25, 0.1, 0.12, 0.13, 0.15, 0.15]
    field_of = {"name_edit": "name", "swap_names": "name", "dob_day_month": "dob", "dob_transpose": "dob",
                "stale_postcode": "postcode", "missing_postcode": "postcode", "none": "none"}  # fmt: skip
    double_rate = 0.35
    if errors == "unseen":
        errors_arr = np.array(["none", *_UNSEEN])
        probs = [0.05, *(_UNSEEN[k][1] for k in _UNSEEN)]
        field_of = {"none": "none", **{k: v[0] for k, v in _UNSEEN.items()}}
        double_rate = 0.5
    else:
        errors_arr = errors_tuned
    err = errors_arr[rng.choice(len(errors_arr), unlinked, p=np.array(probs) / sum(probs))]
    r_given = given[who].copy()
    r_family = family[who].copy()
    r_dob = dob[who].copy()
    r_pc = current[who].copy().astype(object)

    def _inject(i: int, e: str) -> None:
        if e == "name_edit":
            if rng.random() < 0.5:
                r_given[i] = _edit(r_given[i], rng)
            else:
                r_family[i] = _edit(r_family[i], rng)
        elif e == "swap_names":
            r_given[i], r_family[i] = r_family[i], r_given[i]
        elif e in ("dob_day_month", "dob_transpose"):
            r_dob[i] = _dob_error(r_dob[i], e, rng)
        elif e == "stale_postcode":
            r_pc[i] = previous[who[i]] if previous[who[i]] is not None else r_pc[i]
        elif e == "missing_postcode":
            r_pc[i] = None
        elif e in _UNSEEN:
            r_given[i], r_family[i], r_dob[i], r_pc[i] = _unseen_error(
                e, (r_given[i], r_family[i], r_dob[i], r_pc[i]), family, rng
            )

    # A third of the erroneous records get a second error in another field (e.g. a typo and a stale postcode).
    second = errors_arr[rng.choice(np.arange(1, len(errors_arr)), unlinked)]
    same_field = np.array([field_of[a] == field_of[b] for a, b in zip(err, second, strict=True)])
    double = (rng.random(unlinked) < double_rate) & (err != "none") & ~same_field
    for i in range(unlinked):
        for e in (err[i], second[i]) if double[i] else (err[i],):
            _inject(i, e)
    truth = np.where(np.arange(unlinked) < n_in, nhs[who], None)
    # Object columns go in as lists: polars 2 cannot cast a numpy object array whose first value is None
    # to String (at 500,000 x 50,000 the first record's postcode is missing).
    records = pl.DataFrame(
        {
            "record_id": np.arange(unlinked),
            "given_name": r_given.tolist(),
            "family_name": r_family.astype(str),
            "date_of_birth": r_dob,
            "sex": sex[who],
            "postcode": r_pc.tolist(),
            "true_nhs_number": truth,
            "error": np.where(
                np.arange(unlinked) < n_in,
                np.where(double, np.char.add(np.char.add(err, "+"), second), err),
                "not_in_master",
            ),
        },
        schema_overrides={"given_name": pl.String, "postcode": pl.String, "true_nhs_number": pl.String},
    ).with_columns(pl.col("date_of_birth").cast(pl.Date))
    order = rng.permutation(unlinked)
    return master, records[order.tolist()]


def _edit(name: str, rng: np.random.Generator) -> str:
    """One-character substitution, deletion or insertion (never the first letter; keeps >= 2 letters)."""
    if len(name) < 3:
        return name + "E"
    pos = int(rng.integers(1, len(name)))
    letter = "AEIOURSTLN"[int(rng.integers(0, 10))]
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return name[:pos] + letter + name[pos + 1 :]
    if kind == 1:
        return name[:pos] + name[pos + 1 :]
    return name[:pos] + letter + name[pos:]


def _dob_error(d: np.datetime64, kind: str, rng: np.random.Generator) -> np.datetime64:
    """Day/month swap (when valid and different) or adjacent digit transposition giving a valid date."""
    day = dt.date.fromisoformat(str(d))
    if kind == "dob_day_month" and day.day <= 12 and day.day != day.month:
        return np.datetime64(day.replace(month=day.day, day=day.month))
    digits = day.strftime("%Y%m%d")
    for pos in rng.permutation(7):
        s = list(digits)
        s[pos], s[pos + 1] = s[pos + 1], s[pos]
        cand = "".join(s)
        if cand == digits:
            continue
        try:
            new = dt.date(int(cand[:4]), int(cand[4:6]), int(cand[6:]))
        except ValueError:
            continue
        if 1900 <= new.year <= 2025:
            return np.datetime64(new)
    return d


# Unseen error types: (field, rate before normalisation). Not the errors the matcher was tuned on.
_UNSEEN: dict[str, tuple[str, float]] = {
    "name_two_edits": ("given", 0.14),
    "family_truncated": ("family", 0.08),
    "family_double_barrelled": ("family", 0.08),
    "given_cut_to_four": ("given", 0.06),
    "missing_given": ("given", 0.05),
    "family_two_edits": ("family", 0.14),
    "dob_digit": ("dob", 0.14),
    "dob_year_off_by_one": ("dob", 0.08),
    "postcode_typo": ("postcode", 0.13),
}


def _unseen_error(
    kind: str, row: tuple[object, object, np.datetime64, object], family: np.ndarray, rng: np.random.Generator
) -> tuple[object, object, np.datetime64, object]:
    """One `_UNSEEN` error applied to (given, family, dob, postcode)."""
    given, fam, dob, pc = row
    if kind == "name_two_edits" and isinstance(given, str):
        given = _edit(_edit(given, rng), rng)
    elif kind == "family_two_edits":
        fam = _edit(_edit(str(fam), rng), rng)
    elif kind == "family_truncated":
        fam = str(fam)[: max(3, len(str(fam)) - 2)]
    elif kind == "family_double_barrelled":
        fam = f"{fam}-{family[int(rng.integers(0, len(family)))]}"
    elif kind == "given_cut_to_four" and isinstance(given, str):
        given = given[:4]
    elif kind == "missing_given":
        given = None
    elif kind == "dob_digit":
        dob = _dob_digit(dob, rng)
    elif kind == "dob_year_off_by_one":
        day = dt.date.fromisoformat(str(dob))
        year = day.year + (1 if rng.random() < 0.5 else -1)
        dob = np.datetime64(day.replace(year=year, day=min(day.day, 28)))
    elif kind == "postcode_typo" and isinstance(pc, str):
        pos = int(rng.choice([i for i, ch in enumerate(pc) if ch.isalnum() and i > 0]))
        pool = "0123456789" if pc[pos].isdigit() else "ABDEFGHJLNPQRSTUWXYZ"
        pc = pc[:pos] + pool[int(rng.integers(0, len(pool)))] + pc[pos + 1 :]
    return given, fam, dob, pc


def _dob_digit(d: np.datetime64, rng: np.random.Generator) -> np.datetime64:
    """One digit of YYYYMMDD replaced by another, giving a different valid date (else unchanged)."""
    digits = dt.date.fromisoformat(str(d)).strftime("%Y%m%d")
    for pos in rng.permutation(8):
        s = list(digits)
        s[pos] = str(int(rng.integers(0, 10)))
        cand = "".join(s)
        try:
            new = dt.date(int(cand[:4]), int(cand[4:6]), int(cand[6:]))
        except ValueError:
            continue
        if cand != digits and 1900 <= new.year <= 2025:
            return np.datetime64(new)
    return d
