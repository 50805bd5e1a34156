"""Read-speed benchmark for the connectors (not part of the test suite).

    .venv/bin/python -m bench.ingest --rows 1000000 [--dir /tmp/bench]

Writes one APC-shaped and one GP-events-shaped file of ``rows`` rows with the generator's defect rates
(formatted NHS numbers, duplicates, malformed lines, quoted commas), then times ``ingest_file`` and the
Type 1 scan. Results go to stdout as JSON (this module is a script, so printing is its job).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from connectors import ingest_file, load_non_sharing, load_opt_outs
from connectors.normalise import nhs_is_valid
from connectors.spec import APC, GP_EVENTS


def _nhs_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    stems = pl.Series(rng.integers(999_000_000, 999_999_999, n * 2)).cast(pl.String)
    cand = pl.DataFrame({"s": stems}).select(
        pl.concat_str(pl.col("s"), pl.lit(d)).alias(str(d)) for d in range(10)
    )
    valid = cand.select(
        pl.coalesce(pl.when(nhs_is_valid(pl.col(str(d)))).then(pl.col(str(d))) for d in range(10)).alias("n")
    )
    return valid["n"].drop_nulls().head(n)


def _write(path: Path, frame: pl.DataFrame, rng: np.random.Generator) -> None:
    n = frame.height
    dup = rng.random(n) < 0.003
    frame = pl.concat([frame, frame.filter(pl.Series(dup))])
    frame.write_csv(path)
    lines = path.read_text().split("\n")
    for i in rng.choice(np.arange(1, n), size=max(1, n // 10_000), replace=False):
        lines[i] = lines[i] + ',"extra'
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    landing = args.dir or Path(tempfile.mkdtemp(prefix="phm-bench-"))
    rng = np.random.default_rng(1)
    n = args.rows
    nhs = _nhs_numbers(rng, n)
    pretty = pl.Series(rng.random(n) < 0.03)
    nhs = pl.select(
        pl.when(pretty)
        .then(nhs.str.slice(0, 3) + " " + nhs.str.slice(3, 3) + " " + nhs.str.slice(6))
        .otherwise(nhs)
    ).to_series()
    day = pl.Series(rng.integers(1, 31, n)).cast(pl.String).str.zfill(2)
    date = "2025-04-" + day
    ids = pl.Series(np.arange(n)).cast(pl.String)
    apc = pl.DataFrame(
        {
            "NHS_NUMBER": nhs,
            "PROCODE": "RXX",
            "EPIKEY": "E" + ids,
            "SUSSPELLID": "S" + ids,
            "EPIORDER": "1",
            "ADMIDATE": date,
            "ADMIMETH": "21",
            "ADMISORC": "19",
            "EPISTART": date,
            "EPIEND": date,
            "DISDATE": date,
            "DISMETH": "1",
            "DIAG_4_01": "I210",
            "DIAG_4_02": "E119",
            "DIAG_4_03": "",
            "DIAG_4_04": "",
            "OPERTN_4_01": "K401",
            "OPERTN_4_02": "",
            "OPERTN_4_03": "",
            "SEX": pl.Series(rng.choice(["1", "2"], n)),
            "DOB": "1950-06-30",
            "ETHNOS": "A",
            "POSTCODE": "LS1 4AP",
            "GPPRAC": "A12345",
            "LSOA21": "E01000001",
        }
    ).select(APC.names)
    gp = pl.DataFrame(
        {
            "NHS_Number": nhs,
            "Practice_Code": "A12345",
            "Event_ID": "E" + ids,
            "Event_Date": date,
            "SNOMED_Code": pl.Series(
                rng.choice(["22298006", "827241000000103", "38341003"], n, p=[0.6, 0.01, 0.39])
            ),
            "Value": "",
            "Unit": pl.Series(rng.choice(["", "mmHg", "mg, daily"], n)),
        }
    ).select(GP_EVENTS.names)
    for rel, text in {
        "registers/national_data_opt_out.csv": "NHS_Number,Recorded_Date\n"
        + "\n".join(nhs.head(n // 20))
        + "\n",
        "registers/non_sharing_practices.csv": "Practice_Code,Reason\nB99999,x\n",
    }.items():
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text(text)
    out: dict[str, object] = {"rows": n}
    for source, frame in (("apc", apc), ("gp_events", gp)):
        path = landing / source / f"{source}_2025-04.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, frame, rng)
    t0 = time.perf_counter()
    opt_outs = load_opt_outs(landing)
    out["load_opt_outs_s"] = round(time.perf_counter() - t0, 3)
    non_sharing = load_non_sharing(landing)
    for source in ("apc", "gp_events"):
        path = landing / source / f"{source}_2025-04.csv"
        t0, c0 = time.perf_counter(), time.process_time()
        result = ingest_file(
            source, path, landing=landing, opt_outs=opt_outs, non_sharing=non_sharing, load_id="B"
        )
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        rec = result.reconciliation
        out[source] = {
            "mb": round(path.stat().st_size / 1e6, 1),
            "rows_in": rec.rows_in,
            "seconds": round(secs, 3),
            "rows_per_s": round(rec.rows_in / secs),
            "cpu_seconds": round(cpu, 3),  # all threads; wall time is inflated when the machine is shared
            "loaded": rec.loaded,
            "quarantined": rec.quarantined,
            "excluded": rec.excluded,
            "opted_out": rec.opted_out,
        }
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
