"""The check history of an installation (`Home.dq_history`, ops zone, counts only): each published
run's results, the month volumes it saw and its linkage rates, one parquet file of each per run.

The next load reads the volumes for its volume checks and the report reads the results for the trend
over loads, so only a published build writes here (`quality.hook.QualityHook.save`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core.files import write_public
from core.layout import Home
from linkage.linkage_quality import linkage_rates
from quality.results import DQ_RESULTS_SCHEMA, VOLUME_SCHEMA, QualityRun


def sorted_files(folder: Path, pattern: str = "*.parquet") -> list[str]:
    """The files of `folder` matching `pattern`, sorted; none when the folder is not there."""
    return [str(p) for p in sorted(folder.glob(pattern))] if folder.is_dir() else []


def _history_file(home: Home, kind: str, run_id: str) -> Path:
    return home.dq_history / f"{kind}_{run_id}.parquet"


def _read(home: Home, kind: str, schema: dict[str, Any]) -> pl.DataFrame:
    files = sorted_files(home.dq_history, f"{kind}_*.parquet")
    if not files:
        return pl.DataFrame(schema=schema)
    return pl.concat([pl.read_parquet(f).cast(schema) for f in files], how="vertical")  # type: ignore[arg-type]


def save_history(home: Home, run: QualityRun) -> None:
    """Keep this run's results and month volumes (ops zone, counts only) for trends and volume checks."""
    for kind, frame in (("results", run.frame()), ("volume", run.volumes)):
        write_public(_history_file(home, kind, run.run_id), frame.write_parquet)


def load_history(home: Home) -> pl.DataFrame:
    """Every saved run's results, oldest first (for the trend over loads)."""
    return _read(home, "results", DQ_RESULTS_SCHEMA).sort("run_at", "run_id")


def load_volumes(home: Home) -> pl.DataFrame:
    """Every saved run's rows per source and file month (what the volume checks compare against)."""
    return _read(home, "volume", VOLUME_SCHEMA)


def save_linkage_rates(home: Home, run_id: str, rates: pl.DataFrame) -> None:
    """Keep a published run's linkage rates (disclosure-controlled) next to its check results."""
    write_public(_history_file(home, "linkage", run_id), rates.write_parquet)


def load_linkage_rates(home: Home, run_id: str, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The run's kept linkage rates; computed from `con` and the pseudonymised staged files if absent."""
    kept = _history_file(home, "linkage", run_id)
    if kept.exists():
        return pl.read_parquet(kept)
    return linkage_rates(con, home.pseudo_staged_dir)
