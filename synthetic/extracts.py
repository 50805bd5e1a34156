"""Turn activity rows into the monthly landing files of connectors/spec.py, injecting defects.

Files are written without quoting: no clean value contains a comma, quote or newline, so every
physical line is one record (the truth's line numbers rely on this). Malformed-line defects are the
only exception, by design. Each file gets its control totals beside it (`connectors.manifest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from connectors.manifest import manifest_path, manifest_text
from connectors.spec import EXTRACTS, Extract, extract_filename
from core.files import write_public
from synthetic import defects as dz
from synthetic.activity import Activity
from synthetic.config import Calendar, DefectRates
from synthetic.geography import Geography
from synthetic.names import STREETS
from synthetic.people import ETHNIC_CODES, FAMILY_VOCAB, GIVEN_VOCAB, NEVER, Population
from synthetic.truth import RecordsWriter

_IDS: dict[str, dict[str, tuple[str, str | None]]] = {
    "gp_events": {"event_id": ("GPE", None)},
    "gp_medications": {"issue_id": ("GPM", None)},
    "apc": {"episode_id": ("EPI", None), "spell_id": ("SPL", "spell_seq")},
    "ecds": {"attendance_id": ("ECD", None)},
    "outpatients": {"attendance_id": ("OPA", None)},
    "csds": {"contact_id": ("CSC", None), "referral_id": ("CSR", "referral_seq")},
    "mhsds": {"record_id": ("MHR", None), "referral_id": ("MHS", "referral_seq")},
    "asc_cld": {"event_id": ("ASC", None)},
}
_STREETS = np.array(STREETS)
_NUMERIC_SEX = frozenset({"apc", "outpatients"})


@dataclass
class Context:
    cal: Calendar
    geo: Geography
    pop: Population
    rates: DefectRates
    landing: Path
    records: RecordsWriter
    gp_ethnicity_missing: np.ndarray  # per person (practice-level rates)
    la_person_id: pl.Series  # per person
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0


def _dates(days: np.ndarray | pl.Series, fmt: str) -> pl.Series:
    s = days if isinstance(days, pl.Series) else pl.Series(days)
    return s.cast(pl.Int64).cast(pl.Int32).cast(pl.Date).dt.strftime(fmt)


def _take(vocab: np.ndarray, idx: np.ndarray) -> pl.Series:
    """Strings by index into a small vocabulary (much faster than building strings per row)."""
    return pl.Series(vocab, dtype=pl.String).gather(idx)


def _seq_ids(prefix: str, seq: np.ndarray) -> pl.Series:
    return pl.select(pl.lit(prefix) + pl.Series(seq).cast(pl.String).str.zfill(9)).to_series()


def write_source(act: Activity, ctx: Context, rng: np.random.Generator) -> None:
    spec = EXTRACTS[act.source]
    frame = act.frame.sort(["date", "person"], maintain_order=True)
    month = ctx.cal.month_index(frame["date"].to_numpy())
    bounds = np.searchsorted(month, np.arange(ctx.cal.months + 1))
    counts = ctx.counts.setdefault(act.source, dict.fromkeys(dz.DEFECTS, 0))
    for m, label in enumerate(ctx.cal.labels):
        part = frame.slice(int(bounds[m]), int(bounds[m + 1] - bounds[m]))
        seq = np.arange(bounds[m], bounds[m + 1])
        out, flags, person, nhs = _format(act, spec, part, seq, m, ctx, rng)
        rel = extract_filename(act.source, label)
        path = ctx.landing / rel
        data = out.write_csv(None, quote_style="never", null_value="", line_terminator="\n").encode("utf-8")
        # Private like all of landing (0600 below its 0700 folders, whatever the umask).
        write_public(path, data)
        write_public(manifest_path(path), manifest_text(path.name, out.height, data).encode("utf-8"))
        ctx.files += 1
        ctx.rows[act.source] = ctx.rows.get(act.source, 0) + out.height
        for k, v in flags.items():
            counts[k] += int(v.sum())
        ctx.records.add(act.source, rel, person, nhs, flags)


def _format(
    act: Activity,
    spec: Extract,
    part: pl.DataFrame,
    seq: np.ndarray,
    m: int,
    ctx: Context,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    pop, geo, r, src = ctx.pop, ctx.geo, ctx.rates, act.source
    n = part.height
    p = part["person"].to_numpy()
    day = part["date"].to_numpy()
    fmt = spec.date_format
    moved = day >= pop.move_date[p]
    switched = day >= pop.switch_date[p]
    practice = np.where(switched, pop.practice1[p], pop.practice0[p])
    if "practice_idx" in part.columns:
        practice = part["practice_idx"].to_numpy()
    registered = (day >= pop.reg_start[p]) | ("practice_idx" in part.columns)
    flags = {k: np.zeros(n, bool) for k in dz.DEFECTS}
    cols: dict[str, pl.Series] = {}
    month_end = int(ctx.cal.month_end[m])
    for c in spec.columns:
        k = c.canonical
        if k == "nhs_number":
            s, f = dz.nhs_strings(src, pop.nhs[p], r, rng)
            flags.update(f)
        elif k == "practice_code":
            s = _take(np.append(geo.practice_code, ""), np.where(registered, practice, geo.n_practice))
        elif k == "sex":
            s = _take(np.array(["1", "2"] if src in _NUMERIC_SEX else ["M", "F"]), pop.sex[p])
        elif k == "date_of_birth":
            s = _dates(pop.dob[p], fmt)
        elif k == "ethnic_category":
            s = _take(np.array(ETHNIC_CODES), pop.ethnic[p])
            miss = ctx.gp_ethnicity_missing[p] if src in dz.GP else rng.random(n) < dz.ethnicity_rate(src, r)
            s = dz.blank(s, miss)
            flags["ethnicity_missing"] = miss
        elif k == "postcode":
            pc = np.where(moved, pop.postcode1[p], pop.postcode0[p])
            if src == "asc_cld":
                stale = moved & (rng.random(n) < r.stale_postcode)
                pc = np.where(stale, pop.postcode0[p], pc)
                flags["stale_postcode"] = stale
            s = _take(geo.postcode, pc)
        elif k == "address":
            a = np.where(moved, pop.address1[p], pop.address0[p])
            s = pl.select(
                pl.Series(a // 1000).cast(pl.String) + pl.lit(" ") + _take(_STREETS, a % 1000)
            ).to_series()
        elif k == "lsoa21":
            s = _take(geo.lsoa_code, np.where(moved, pop.lsoa1[p], pop.lsoa0[p]))
        elif k == "given_name":
            s = _take(GIVEN_VOCAB, pop.given[p])
        elif k == "family_name":
            s = _take(FAMILY_VOCAB, pop.family[p])
        elif k == "la_person_id":
            s = ctx.la_person_id.gather(p)
        elif k == "extract_date":
            s = _dates(np.full(n, month_end), fmt)
        elif k in _IDS.get(src, {}):
            prefix, col = _IDS[src][k]
            s = _seq_ids(prefix, seq if col is None else part[col].to_numpy())
        elif c.dtype == "date":
            s = _dates(day if k == spec.activity_date else part[k], fmt)
        elif k in act.vocab:
            s = _take(act.vocab[k], part[k].to_numpy())
        elif c.dtype == "float":
            v = part[k]
            s = pl.select(pl.when(v.is_nan()).then(None).otherwise(v.cast(pl.String))).to_series()
        else:
            s = part[k].cast(pl.String)
        cols[c.name] = s.alias(c.name)

    _row_defects(src, spec, cols, flags, p, day, month_end, ctx, rng)
    out = pl.DataFrame(list(cols.values()))
    # Exact duplicates, each right after its original.
    dup = rng.random(n) < r.duplicate_row
    take = np.repeat(np.arange(n), 1 + dup)
    if dup.any():
        out = out[take]
        flags = {k: v[take] for k, v in flags.items()}
        is_copy = np.zeros(len(take), bool)
        is_copy[1:] = take[1:] == take[:-1]
        flags["duplicate"] = is_copy
    return out, flags, p[take], pop.nhs[p[take]]


def _row_defects(
    src: str,
    spec: Extract,
    cols: dict[str, pl.Series],
    flags: dict[str, np.ndarray],
    p: np.ndarray,
    day: np.ndarray,
    month_end: int,
    ctx: Context,
    rng: np.random.Generator,
) -> None:
    r, pop, n = ctx.rates, ctx.pop, len(p)
    fmt = spec.date_format
    # Impossible or future dates: the activity date (date of birth in the register).
    target = spec.column("date_of_birth" if src == "gp_patients" else spec.activity_date).name
    base = pop.dob[p] if src == "gp_patients" else day
    mask, values = dz.bad_dates(base, fmt, month_end, rng, r.bad_date)
    if mask.any():
        cols[target] = cols[target].scatter(np.flatnonzero(mask), values)
    flags["bad_date"] = mask
    if src in dz.CODE_COLUMN:
        canon, system = dz.CODE_COLUMN[src]
        name = spec.column(canon).name
        unk = rng.random(n) < r.unknown_code
        if unk.any():
            cols[name] = cols[name].scatter(
                np.flatnonzero(unk), dz.unknown_codes(system, int(unk.sum()), rng)
            )
        flags["unknown_code"] = unk
        messy_col = name
    else:
        messy_col = (
            spec.column("practice_code").name
            if "practice_code" in [c.canonical for c in spec.columns]
            else spec.column("postcode").name
        )
    mc = (rng.random(n) < r.messy_code) & (cols[messy_col].fill_null("") != "").to_numpy()
    if mc.any():
        cols[messy_col] = dz.messy(cols[messy_col], np.flatnonzero(mc), rng)
    flags["messy_code"] = mc
    if src == "asc_cld":
        g, f = spec.column("given_name").name, spec.column("family_name").name
        swap = rng.random(n) < r.swapped_names
        if swap.any():
            idx = np.flatnonzero(swap)
            gv, fv = cols[g].gather(idx), cols[f].gather(idx)
            cols[g], cols[f] = cols[g].scatter(idx, fv), cols[f].scatter(idx, gv)
        flags["swapped_names"] = swap
        miss = rng.random(n) < r.misspelt_name
        if miss.any():
            idx = np.flatnonzero(miss)
            which = rng.random(len(idx)) < 0.5
            for col, sel in ((g, which), (f, ~which)):
                sub = idx[sel]
                if len(sub):
                    cols[col] = cols[col].scatter(
                        sub, pl.Series(dz.misspell(cols[col].gather(sub).to_list(), rng))
                    )
        flags["misspelt_name"] = miss
        tr = rng.random(n) < r.transposed_dob
        dob = spec.column("date_of_birth").name
        if tr.any():
            idx = np.flatnonzero(tr)
            cols[dob] = cols[dob].scatter(idx, pl.Series(dz.transpose_dob(pop.dob[p[idx]], fmt)))
        flags["transposed_dob"] = tr
    # Malformed lines: an extra field, or an unbalanced quote opening a field.
    bad = rng.random(n) < r.malformed_line
    if bad.any():
        idx = np.flatnonzero(bad)
        extra = rng.random(len(idx)) < 0.5
        last = spec.columns[-1].name
        target_col = spec.columns[min(2, len(spec.columns) - 1)].name
        e_idx, q_idx = idx[extra], idx[~extra]
        if len(e_idx):
            cols[last] = cols[last].scatter(e_idx, cols[last].gather(e_idx).fill_null("") + ",EXTRA")
        if len(q_idx):
            cols[target_col] = cols[target_col].scatter(
                q_idx, '"' + cols[target_col].gather(q_idx).fill_null("")
            )
    flags["malformed_line"] = bad


__all__ = ["NEVER", "Context", "write_source"]
