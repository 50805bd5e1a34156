"""Stages 3-4: the GP demographic master, and tracing every record without a valid NHS number."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import linkage
from connectors.spec import EXTRACTS, GP_SOURCES
from core.layout import Home
from linkage import review
from load.files import staged_months, write_parquet


def build_gp_master(home: Home) -> int:
    """Build the GP demographic master from every staged gp_patients month; returns its row count."""
    files = [home.staged("gp_patients", m) for m in staged_months(home, "gp_patients")]
    if not files:
        raise FileNotFoundError("no staged gp_patients records: the GP master cannot be built")
    patients = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    master = linkage.build_master(patients)
    write_parquet(master, home.gp_master)
    return master.height


TRACE_COLUMNS: tuple[str, ...] = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address")
TRACE_SCHEMA = {
    "given_name": pl.String, "family_name": pl.String, "date_of_birth": pl.Date, "sex": pl.String,
    "postcode": pl.String, "address": pl.String,
}  # fmt: skip


def untraced(frame: pl.DataFrame) -> pl.DataFrame:
    """The demographics of rows without a valid NHS number, with every trace column present."""
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in TRACE_SCHEMA.items() if c not in frame.columns]
    return (
        frame.filter(pl.col("nhs_number").is_null())
        .with_columns(missing)
        .select([pl.col(c).cast(t) for c, t in TRACE_SCHEMA.items()])
    )


def _read_untraced(path: Path) -> pl.DataFrame:
    """Only the rows without an NHS number, and only their trace columns, read from a staged file."""
    scan = pl.scan_parquet(path)
    present = set(scan.collect_schema().names())
    columns = [c for c in ("nhs_number", *TRACE_SCHEMA) if c in present]
    return scan.filter(pl.col("nhs_number").is_null()).select(columns).collect()


def trace_records(home: Home, *, probabilistic: bool = True, seed: int = 42) -> dict[str, int]:
    """Trace every record without a valid NHS number, across all sources, in one pass.

    Records are pooled and de-duplicated on their demographics first, so each distinct person-description
    is traced once (exact passes, then Splink) and the probabilistic model is trained once per run. The
    result — demographics -> NHS number, method, confidence — stays in the identifiable zone; pairs in the
    uncertainty band go to the clerical review file, whose decisions are honoured on the next run.
    """
    master = pl.read_parquet(home.gp_master)
    frames = [
        untraced(_read_untraced(home.staged(source, month)))
        for source in EXTRACTS
        if source not in GP_SOURCES
        for month in staged_months(home, source)
    ]
    pooled = pl.concat(frames).unique(maintain_order=True) if frames else pl.DataFrame(schema=TRACE_SCHEMA)
    pooled = pooled.sort(list(TRACE_SCHEMA), nulls_last=True)
    passes: list[linkage.Tracer] = list(linkage.DEFAULT_PASSES)
    if probabilistic and pooled.height:
        decisions = review.read_decisions(home.review_queue) if home.review_queue.exists() else None
        passes.append(linkage.SplinkPass(decisions=decisions, review_path=home.review_queue, seed=seed))
    result = linkage.trace(pooled, master, passes=passes, namespace="pool")
    results = result.frame.select(*TRACE_SCHEMA, "nhs_number", "link_method", "link_confidence")
    write_parquet(results, home.trace_results)
    return {f"link/{method}": rows for method, rows in sorted(result.stats.rows.items())}
