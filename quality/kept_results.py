"""Source-check results kept for the rest of one load, so each source check runs once per load.

In a Dagster load the `dq_<source>` asset checks evaluate a source's expectations on its pseudonymised
staged files before the warehouse is built; the build's quality hook then needs the same counts for
`dq_results`. The check keeps its `QualityRun` here (`keep_source_run`) and the hook takes it back
(`take_source_run`) instead of evaluating the expectations again.

A kept run is used only when it is for the same load (the Dagster run id) and was computed from the
same inputs: the key is a SHA-256 over the size and mtime (ns) of every file the source checks read (the
pseudonymised staged files, the identifiable staged files whose `nhs_number_status` they count, the
source's reconciliation counts and the volume history), the code lists they match codes against, the
`as_of` date, the engine and the whole configuration. Anything else (another run, a changed file, another configuration) is recomputed, so a
build without Dagster checks (`phm bench pipeline`) still gets every row.

The file holds counts only (the `CheckResult` fields and rows per file month, never a value from the
data) and is written 0600 in a 0700 folder (`core.files`), one file per source, replaced by each run and
removed once taken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import date, datetime
from pathlib import Path

import polars as pl

from core.files import private_dir, write_private
from core.layout import Home
from quality.config import QualityConfig
from quality.engine import Engine
from quality.results import VOLUME_SCHEMA, CheckResult, QualityRun

#: Version of the file's layout; a file of another version is ignored.
_FORMAT = 1
#: Fields taken from the kept results; run_id and run_at are the taker's own.
_COUNT_FIELDS = [f.name for f in fields(CheckResult) if f.name not in ("run_id", "run_at")]


def _kept_file(home: Home, source: str) -> Path:
    return home.ops_kind("dq_source_runs") / f"{source}.json"


def _stats(files: list[Path]) -> list[tuple[str, int, int]]:
    out = []
    for path in sorted(files):
        st = path.stat()
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return out


def _glob(folder: Path, pattern: str) -> list[Path]:
    return list(folder.glob(pattern)) if folder.is_dir() else []


def inputs_key(
    home: Home, source: str, *, as_of: date, engine: Engine, config: QualityConfig,
    codelists: Sequence[tuple[str, str]],
) -> str:  # fmt: skip
    """SHA-256 (hex) of what the source checks of `source` read and are configured by (see module doc).

    `codelists`: the (codelist, code) pairs the checks would match codes against
    (`quality.expectations.codelist_rows`: the build's `ref_codelist`, else the shipped lists). Only
    file names, sizes and mtimes are read, never a file's content."""
    inputs = {
        "pseudonymised": _stats(_glob(home.pseudo_staged(source), "*.parquet")),
        "staged": _stats(_glob(home.staged(source), "*.parquet")),
        "reconciliation": _stats(_glob(home.ops_kind("reconciliation"), f"{source}_*.parquet")),
        "volume_history": _stats(_glob(home.dq_history, "volume_*.parquet")),
        "as_of": as_of.isoformat(),
        "engine": engine,
        "config": config.model_dump(mode="json"),
        "codelists": [list(pair) for pair in codelists],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def keep_source_run(home: Home, source: str, run: QualityRun, *, load: str, key: str) -> Path:
    """Keep the counts of one source's checks for load `load` (computed from inputs with `key`)."""
    body = {
        "format": _FORMAT,
        "load": load,
        "source": source,
        "inputs_key": key,
        "results": [{k: v for k, v in asdict(r).items() if k in _COUNT_FIELDS} for r in run.results],
        "volumes": run.volumes.select("source", "month", "rows").to_dicts(),
    }
    path = _kept_file(home, source)
    private_dir(path.parent)
    write_private(path, json.dumps(body, sort_keys=True).encode(), replace=True)
    return path


def take_source_run(
    home: Home, source: str, *, load: str, key: str, run_id: str, run_at: datetime
) -> QualityRun | None:  # fmt: skip
    """The kept run of `source` if it is for `load` and `key`, stamped `run_id`/`run_at`; else None.

    The file is removed either way (used once; a foreign or stale one is never used)."""
    path = _kept_file(home, source)
    try:
        body = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:  # a torn or foreign file: recompute
        body = {}
    path.unlink(missing_ok=True)
    if (body.get("format"), body.get("load"), body.get("source"), body.get("inputs_key")) != (
        _FORMAT, load, source, key,
    ):  # fmt: skip
        return None
    run = QualityRun(run_id, run_at)
    run.results = [CheckResult(run_id=run_id, run_at=run_at, **r) for r in body["results"]]
    volumes = pl.DataFrame(
        body["volumes"], schema={"source": pl.String, "month": pl.String, "rows": pl.Int64}
    )
    run.volumes = volumes.select(
        pl.lit(run_id).alias("run_id"), pl.lit(run_at).cast(pl.Datetime("us")).alias("run_at"), pl.all()
    ).cast(VOLUME_SCHEMA)  # type: ignore[arg-type]
    return run


__all__ = ["inputs_key", "keep_source_run", "take_source_run"]
