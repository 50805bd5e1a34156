"""Probabilistic tracing pass (Splink) for records the exact passes could not trace (identifiable zone).

`SplinkPass` implements the `linkage.trace.Tracer` protocol, so it runs after the deterministic passes:

    trace(records, master, passes=[*DEFAULT_PASSES, SplinkPass(threshold=0.9)], namespace=...)

The master is exploded to one row per known postcode (current and earlier), so a record carrying a stale
postcode still agrees on postcode; best match and ambiguity are judged per NHS number. Clerical decisions
(`linkage.review`) are applied ahead of the model: a decided 'match' links directly, a 'no_match' pair is
never proposed again. Pairs in the uncertainty band can be written to a review queue file.

`benchmark` generates a seeded synthetic master and unlinked records with injected errors and measures
the whole trace (exact passes then this one). Nothing here logs row values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from linkage import review
from linkage.matcher import match_people
from linkage.trace import NHS_NUMBER, ROW_IDX, PassResult

METHOD = "probabilistic"
_MATCH_COLUMNS = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")


@dataclass(frozen=True)
class SplinkPass:
    """Tracer: Splink match of the still-unmatched records to the GP master; confidence = match probability.

    - `threshold`: accept a best candidate at or above this probability (see `match_people`).
    - `review_band`: probabilities whose pairs go to the clerical review queue.
    - `decisions`: reviewer decisions (`review.read_decisions`), honoured ahead of the model.
    - `review_path`: if set, the review queue CSV is (re)written there on every `match` call.
    - `link_rate`: expected share of the records reaching this pass that are in the master (the prior).
    Decided 'match' rows get confidence 1.0.
    """

    threshold: float = 0.9
    review_band: tuple[float, float] = (0.5, 0.9)
    decisions: pl.DataFrame | None = None
    review_path: Path | None = None
    link_rate: float = 0.8
    seed: int = 42
    max_pairs: float = 1e6
    threads: int | None = None
    m_shrinkage: float = 0.5
    name: str = field(default=METHOD)

    def required_columns(self) -> frozenset[str]:
        return frozenset({"date_of_birth"})

    def match(self, unmatched: pl.DataFrame, master: pl.DataFrame) -> PassResult:
        cols = [c for c in _MATCH_COLUMNS if c in unmatched.columns and c in master.columns]
        left = unmatched.select(ROW_IDX, *cols).with_columns(
            review.record_key(unmatched).alias(review.RECORD_KEY)
        )
        decided = review.decided_pairs(self.decisions)
        # Decided matches link ahead of the model, but only to a person still in the master.
        direct = (
            left.join(decided.filter(pl.col("decision") == "match"), on=review.RECORD_KEY, how="inner")
            .join(master.select(NHS_NUMBER), on=NHS_NUMBER, how="semi")
            .unique(subset=ROW_IDX, keep="first", maintain_order=True)
            .select(pl.col(ROW_IDX), pl.col(NHS_NUMBER), pl.lit(1.0).alias("confidence"))
        )
        model_left = left.join(direct.select(ROW_IDX), on=ROW_IDX, how="anti")
        blocked = model_left.join(
            decided.filter(pl.col("decision") == "no_match"), on=review.RECORD_KEY, how="inner"
        ).select(ROW_IDX, NHS_NUMBER)
        right = _exploded_master(master, cols)
        result = match_people(
            model_left.drop(review.RECORD_KEY),
            right,
            left_id=ROW_IDX,
            right_id="_master_row",
            right_entity=NHS_NUMBER,
            threshold=self.threshold,
            review_band=self.review_band,
            training_seed=self.seed,
            max_pairs=self.max_pairs,
            link_rate=self.link_rate,
            blocked_pairs=blocked,
            threads=self.threads,
            m_shrinkage=self.m_shrinkage,
        )
        accepted = result.best.filter(pl.col("accepted")).select(
            pl.col(ROW_IDX), pl.col(NHS_NUMBER), pl.col("match_probability").alias("confidence")
        )
        if self.review_path is not None:
            queue = review.build_queue(result.review, model_left, master, left_id=ROW_IDX)
            review.write_queue(queue, self.review_path, decisions=self.decisions)
        ambiguous = result.best.filter(pl.col("reason") == "ambiguous").height
        return PassResult(matches=pl.concat([direct, accepted], how="vertical_relaxed"), ambiguous=ambiguous)


def _exploded_master(master: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """One row per (person, known postcode); people without any postcode keep one row with a null one."""
    base = master.select(NHS_NUMBER, *[c for c in cols if c != "postcode"])
    if "postcode" in cols:
        if "postcode_history" in master.columns:
            pcs = master.select(
                NHS_NUMBER,
                pl.concat_list(pl.col("postcode"), pl.col("postcode_history"))
                .list.drop_nulls()
                .list.unique(maintain_order=True)
                .alias("postcode"),
            ).explode("postcode")
        else:
            pcs = master.select(NHS_NUMBER, "postcode")
        base = base.join(pcs, on=NHS_NUMBER, how="left")
    return base.with_row_index("_master_row")


# --- benchmark -----------------------------------------------------------------------------------------


def synthetic_trace_data(persons: int, unlinked: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A seeded GP master (`linkage.build_master` shape) and records without NHS numbers, with truth.

    Records: 90 % are master people with injected errors (one-character name edit, given/family swapped,
    day/month swapped DOB, digit transposition in the DOB, stale postcode, missing postcode, or none),
    10 % are people not in the master. `true_nhs_number` holds the truth (null for the latter) and
    `error` the injected error; callers drop both before tracing.
    """
    from synthetic.names import FAMILY, GIVEN_FEMALE, GIVEN_MALE, ORIGINS

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
    errors = np.array(["none", "name_edit", "swap_names", "dob_day_month", "dob_transpose", "stale_postcode",
                       "missing_postcode"])  # fmt: skip
    err = errors[rng.choice(len(errors), unlinked, p=[0.1, 0.25, 0.1, 0.12, 0.13, 0.15, 0.15])]
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

    # A third of the erroneous records get a second error in another field (e.g. a typo and a stale postcode).
    second = errors[rng.choice(np.arange(1, len(errors)), unlinked)]
    field_of = {"name_edit": "name", "swap_names": "name", "dob_day_month": "dob", "dob_transpose": "dob",
                "stale_postcode": "postcode", "missing_postcode": "postcode", "none": "none"}  # fmt: skip
    same_field = np.array([field_of[a] == field_of[b] for a, b in zip(err, second, strict=True)])
    double = (rng.random(unlinked) < 0.35) & (err != "none") & ~same_field
    for i in range(unlinked):
        for e in (err[i], second[i]) if double[i] else (err[i],):
            _inject(i, e)
    truth = np.where(np.arange(unlinked) < n_in, nhs[who], None)
    records = pl.DataFrame(
        {
            "record_id": np.arange(unlinked),
            "given_name": r_given.astype(str),
            "family_name": r_family.astype(str),
            "date_of_birth": r_dob,
            "sex": sex[who],
            "postcode": r_pc,
            "true_nhs_number": truth,
            "error": np.where(
                np.arange(unlinked) < n_in,
                np.where(double, np.char.add(np.char.add(err, "+"), second), err),
                "not_in_master",
            ),
        },
        schema_overrides={"postcode": pl.String, "true_nhs_number": pl.String},
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
    import datetime as dt

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


def quality(traced: pl.DataFrame, truth: pl.Series) -> dict[str, float]:
    """Precision, recall and F1 of traced NHS numbers against truth (null truth: should stay unmatched)."""
    got = traced.get_column(NHS_NUMBER)
    linked = got.is_not_null()
    correct = int((linked & (got == truth)).fill_null(False).sum())
    n_linked = int(linked.sum())
    n_true = int(truth.is_not_null().sum())
    precision = correct / n_linked if n_linked else 1.0
    recall = correct / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "linked": n_linked, "correct": correct, "in_master": n_true}  # fmt: skip


def benchmark(persons: int, unlinked: int, seed: int, *, threads: int | None = None) -> dict[str, Any]:
    """Trace `unlinked` synthetic records against a `persons` master (exact passes, then Splink).

    Returns counts, timings in seconds and precision/recall/F1 (overall and on the records that reached
    the probabilistic pass). Peak memory is for the caller to measure (e.g. `/usr/bin/time -v`).
    """
    from linkage.trace import DEFAULT_PASSES, trace

    t0 = time.perf_counter()
    master, records = synthetic_trace_data(persons, unlinked, seed)
    t1 = time.perf_counter()
    truth = records.get_column("true_nhs_number")
    splink_pass = SplinkPass(seed=seed, threads=threads)
    result = trace(
        records.drop("true_nhs_number", "error"),
        master,
        passes=[*DEFAULT_PASSES, splink_pass],
        namespace="bench",
    )
    t2 = time.perf_counter()
    frame = result.frame
    prob_mask = frame.get_column("link_method").is_in([METHOD, "unmatched"])
    out: dict[str, Any] = {
        "persons": persons,
        "unlinked": unlinked,
        "seed": seed,
        "generate_s": round(t1 - t0, 2),
        "trace_s": round(t2 - t1, 2),
        "rows_by_method": dict(sorted(result.stats.rows.items())),
        "ambiguous": result.stats.ambiguous,
        **quality(frame, truth),
    }
    sub = quality(frame.filter(prob_mask), truth.filter(prob_mask))
    out["probabilistic_stage"] = {k: sub[k] for k in ("precision", "recall", "f1", "in_master")}
    return out
