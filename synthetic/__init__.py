"""Synthetic ICS generator: landing extracts (per connectors/spec.py) plus the truth behind them.

    from synthetic import GeneratorConfig, generate
    summary = generate(GeneratorConfig(persons=5_000), Path("demo"))

Writes ``out/landing/`` (what the pipeline reads) and ``out/truth/`` (what tests check against).
Deterministic: the same config gives byte-identical files. The library never prints; pass
``progress(stage, fraction)`` to report progress.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from connectors.spec import TYPE1_OPT_OUT_SNOMED
from core.files import private_dir, write_public
from synthetic import activity_acute, activity_community, activity_gp, gp_register, registers, truth
from synthetic.config import Calendar, DefectRates, GenerationSummary, GeneratorConfig
from synthetic.extracts import Context, write_source
from synthetic.geography import build_geography, reference_frames
from synthetic.health import build_health
from synthetic.people import NEVER, build_population

__all__ = ["DefectRates", "GenerationSummary", "GeneratorConfig", "generate"]

Progress = Callable[[str, float], None]
_STAGES = (
    "geography",
    "people",
    "names",
    "births",
    "events",
    "nhs",
    "health",
    "gp_events",
    "gp_medications",
    "apc",
    "ecds",
    "outpatients",
    "csds",
    "mhsds",
    "asc_cld",
    "registers",
    "defects",
)


def generate(config: GeneratorConfig, out: Path, progress: Progress | None = None) -> GenerationSummary:
    """Generate a synthetic ICS into ``out`` (``landing/`` and ``truth/`` are replaced)."""
    t0 = time.perf_counter()

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    if config.months < 1:
        raise ValueError("months must be at least 1")
    seeds = dict(zip(_STAGES, np.random.SeedSequence(config.seed).spawn(len(_STAGES)), strict=True))
    rng = {k: np.random.default_rng(s) for k, s in seeds.items()}
    cal = Calendar(config.end_month, config.months)
    out = Path(out)
    landing, truth_dir = out / "landing", out / "truth"
    for d in (landing, truth_dir):
        if d.exists():
            shutil.rmtree(d)
        # Landing holds identifiable extracts: 0700 folders, and every file written below is 0600.
        private_dir(d)

    report("population", 0.0)
    geo = build_geography(config.persons, rng["geography"])
    pop = build_population(config, cal, geo, [rng[k] for k in ("people", "names", "births", "events", "nhs")])
    health = build_health(cal, geo, pop, rng["health"])
    report("activity", 0.1)
    sources = [gp_register.gp_patients(cal, pop)]
    sources.append(activity_gp.gp_events(config, cal, pop, health, rng["gp_events"]))
    sources.append(activity_gp.gp_medications(cal, pop, health, rng["gp_medications"]))
    apc, admitted_via_ae, outcome = activity_acute.apc(cal, pop, health, geo.lsoa_place, rng["apc"])
    sources.append(apc)
    sources.append(activity_acute.ecds(cal, pop, health, geo.lsoa_place, admitted_via_ae, rng["ecds"]))
    sources.append(activity_acute.outpatients(cal, pop, health, geo.lsoa_place, rng["outpatients"]))
    sources.append(activity_community.csds(cal, pop, health, rng["csds"]))
    sources.append(activity_community.mhsds(cal, pop, health, rng["mhsds"]))
    sources.append(activity_community.asc_cld(cal, pop, health, rng["asc_cld"]))
    report("activity", 0.3)

    r_reg = rng["registers"]
    non_sharing, ns_frame = registers.non_sharing_practices(config, geo, r_reg)
    ndoo, ndoo_frame = registers.national_data_opt_out(config, cal, geo, pop, r_reg)
    private_dir(landing / "registers")
    private_dir(landing / "reference")
    write_public(landing / "registers/national_data_opt_out.csv", _csv(ndoo_frame))
    write_public(landing / "registers/non_sharing_practices.csv", _csv(ns_frame))
    registers.write_governance(landing / "registers/governance_register.yaml")
    for rel, frame in reference_frames(geo).items():
        write_public(landing / rel, _csv(frame))

    r_def = rng["defects"]
    prac = config.defects.missing_ethnicity_gp * r_def.lognormal(0, 0.4, geo.n_practice)
    prac[r_def.random(geo.n_practice) < 0.15] *= 5
    prac = np.clip(prac * config.defects.missing_ethnicity_gp / prac.mean(), 0, 0.6)
    gp_eth_missing = r_def.random(pop.n) < prac[pop.practice0]
    la_ids = pl.select(
        pl.lit("LA")
        + pl.Series(r_def.choice(10_000_000, size=pop.n, replace=False)).cast(pl.String).str.zfill(7)
    ).to_series()
    records = truth.RecordsWriter(truth_dir / "records.parquet")
    ctx = Context(cal, geo, pop, config.defects, landing, records, gp_eth_missing, la_ids)
    child = dict(zip([a.source for a in sources], r_def.spawn(len(sources)), strict=True))
    try:
        for i, act in enumerate(sources):
            report(f"writing {act.source}", 0.3 + 0.65 * i / len(sources))
            write_source(act, ctx, child[act.source])
    finally:
        records.close()

    report("truth", 0.95)
    gp_events = sources[1]
    t1_code = int(np.flatnonzero(gp_events.vocab["snomed_code"] == TYPE1_OPT_OUT_SNOMED)[0])
    type1 = np.zeros(pop.n, bool)
    type1[gp_events.frame.filter(snomed_code=t1_code)["person"].to_numpy()] = True
    persons = truth.persons_frame(geo, pop, health, ndoo, type1, non_sharing, outcome)
    persons.write_parquet(truth_dir / "persons.parquet", compression="zstd", statistics=False)
    truth.write_json(truth_dir / "defects.json", ctx.counts)
    truth.write_json(truth_dir / "config.json", config.to_json())
    report("done", 1.0)
    return GenerationSummary(
        persons=config.persons,
        births=int(pop.born_in_period.sum()),
        deaths=int((pop.death < NEVER).sum()),
        rows=dict(ctx.rows),
        files_written=ctx.files + 6,
        seconds=round(time.perf_counter() - t0, 3),
    )


def _csv(frame: pl.DataFrame) -> Callable[[Path], object]:
    """A writer for `core.files.write_public` (0600 in landing's private folders, whatever the umask)."""
    return lambda tmp: frame.write_csv(tmp, line_terminator="\n")
