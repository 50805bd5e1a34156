"""The pipeline's stages as plain functions, file in and file out.

Dagster assets (`pipelines.assets_*`) and `phm bench pipeline` both call these, so what is benchmarked
is what runs. Each stage writes its outputs atomically (temp file then rename) so a crash never
leaves half a file for the next stage; the warehouse itself is rebuilt into a new file and swapped in.

Stages:
1. `load_registers`   NDOO + Type 1 opt-outs and non-sharing practices (identifiable zone)
2. `ingest_months`    connectors over (source, month) files -> staged records + quarantine + ops counts
3. `build_gp_master`  the GP demographic master used for tracing
4. `trace_records`    every record without a valid NHS number, pooled across sources, traced once
5. `build_token_map`  each distinct NHS number tokenised once and put into the vault once
6. `pseudonymise_source`  apply the trace, re-check opt-outs, tokenise via the map, de-identify
                      -> pseudonymised staged records; final reconciliation per file
7. `publish_warehouse` build the DuckDB warehouse from pseudonymised files and swap it in
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

import connectors
import linkage
import quality
from connectors.ingest import file_month
from connectors.spec import EXTRACTS, GP_SOURCES, extract_filename
from core.layout import Home
from linkage import review
from linkage.warehouse import WarehouseStats, build_warehouse
from pseudonymisation import KeyProvider, Tokeniser, Vault, deidentify


@dataclass(frozen=True)
class Registers:
    """What governs a load: who has opted out, which practices share GP data, reference lookups."""

    opt_outs: connectors.OptOuts
    non_sharing: frozenset[str]
    postcode_lsoa: pl.DataFrame


@dataclass
class StageCounts:
    """Counts a stage reports (never patient values): safe for logs and Dagster metadata."""

    rows_in: int = 0
    loaded: int = 0
    quarantined: int = 0
    opted_out: int = 0
    excluded: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "opted_out": self.opted_out,
            "excluded": self.excluded,
            **self.extra,
        }


T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """Files processed at once by the per-file stages (ingest, de-identification): `PHM_WORKERS`, else
    one more than the cores (at most 8).

    Threads, not processes: polars releases the GIL, and other files in flight fill the gaps where one
    file's work is single-threaded. Measured on 2 cores, ingesting 24 GP event files (14.6M rows): 19.7 s
    one file at a time, 13.2 s two at a time, 12.1 s three.
    """
    raw = os.environ.get("PHM_WORKERS") or str(min(8, (os.cpu_count() or 1) + 1))
    try:
        return max(1, int(raw))
    except ValueError:
        raise ValueError(f"PHM_WORKERS must be a whole number, got {raw!r}") from None


def map_files(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`fn` over `items` on `workers()` threads; results in input order, the first error re-raised."""
    if workers() == 1 or len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="phm-file") as pool:
        return list(pool.map(fn, items))


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write atomically: a crash leaves either the old file or the new one, never half of one.

    zstd level 1: these are working files read once or twice; level 1 writes ~25 % faster than the
    default for ~10 % more bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
    os.replace(tmp, path)


def landing_months(landing: Path) -> list[str]:
    """Months ('YYYY-MM') for which any source has a file in landing, sorted."""
    months = {
        file_month(source, path) for source in EXTRACTS for path in (landing / source).glob(f"{source}_*.csv")
    }
    return sorted(m for m in months if m is not None)


def load_registers(landing: Path, home: Home) -> Registers:
    """Read the opt-out and data-sharing registers; keep the opt-out list in the identifiable zone."""
    opt_outs = connectors.load_opt_outs(landing)
    frame = pl.concat(
        [
            pl.DataFrame({"nhs_number": sorted(opt_outs.ndoo), "route": "ndoo"}, schema=_OPT_OUT_SCHEMA),
            pl.DataFrame({"nhs_number": sorted(opt_outs.type1), "route": "type1"}, schema=_OPT_OUT_SCHEMA),
        ]
    )
    write_parquet(frame, home.opt_outs)
    return _registers(landing, opt_outs)


_OPT_OUT_SCHEMA = {"nhs_number": pl.String, "route": pl.String}


def read_registers(landing: Path, home: Home) -> Registers:
    """The registers as last loaded by `load_registers` (opt-outs from the identifiable zone)."""
    frame = pl.read_parquet(home.opt_outs)
    by_route = {
        route: frozenset(frame.filter(pl.col("route") == route)["nhs_number"].to_list())
        for route in ("ndoo", "type1")
    }
    return _registers(landing, connectors.OptOuts(ndoo=by_route["ndoo"], type1=by_route["type1"]))


def _registers(landing: Path, opt_outs: connectors.OptOuts) -> Registers:
    return Registers(
        opt_outs=opt_outs,
        non_sharing=connectors.load_non_sharing(landing),
        postcode_lsoa=connectors.read_reference(landing, "postcode_lsoa").rename({"lsoa21": "lsoa21cd"}),
    )


def ingest_month(
    source: str, month: str, landing: Path, home: Home, registers: Registers, load_id: str
) -> StageCounts | None:
    """Run one source's connector over one month's file. Returns None when the file is absent.

    Raises `connectors.ExtractFileError` for a malformed file before anything is written, so the
    previous load of that month stays in place.
    """
    path = landing / extract_filename(source, month)
    if not path.exists():
        return None
    result = connectors.ingest_file(
        source,
        path,
        landing=landing,
        opt_outs=registers.opt_outs,
        non_sharing=registers.non_sharing,
        load_id=load_id,
    )
    write_parquet(result.records, home.staged(source, month))  # ingest_file has reconciled the file
    write_parquet(result.quarantine, home.quarantine(source, month))
    write_parquet(result.quarantine_counts, home.ops("quarantine", source, month))
    write_parquet(result.removed, home.ops_connector("opt_outs", source, month))
    write_parquet(result.reconciliation.as_frame(), home.ops_connector("reconciliation", source, month))
    rec = result.reconciliation.as_dict()
    return StageCounts(rec["rows_in"], rec["loaded"], rec["quarantined"], rec["opted_out"], rec["excluded"])


@dataclass(frozen=True)
class MonthOutcome:
    """What ingesting one source's month gave: counts, no file (`counts` None), or a file-level error."""

    source: str
    month: str
    counts: StageCounts | None
    error: str | None = None  # names the file and the problem (counts only, never a value)


def ingest_months(
    pairs: Iterable[tuple[str, str]], landing: Path, home: Home, registers: Registers, load_id: str
) -> list[MonthOutcome]:
    """`ingest_month` over (source, month) pairs, several files at once, outcomes in input order.

    A malformed file or a reconciliation failure fails only its own month (`error` set, nothing of it
    written); any other exception is a bug and propagates.
    """

    def one(pair: tuple[str, str]) -> MonthOutcome:
        source, month = pair
        try:
            return MonthOutcome(source, month, ingest_month(source, month, landing, home, registers, load_id))
        except (connectors.ExtractFileError, connectors.ReconciliationError) as exc:
            return MonthOutcome(source, month, None, str(exc))

    return map_files(one, list(pairs))


def staged_months(home: Home, source: str) -> list[str]:
    """Months with staged identifiable records for a source."""
    return sorted(p.stem for p in home.staged(source).glob("*.parquet"))


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
_TRACE_SCHEMA = {
    "given_name": pl.String, "family_name": pl.String, "date_of_birth": pl.Date, "sex": pl.String,
    "postcode": pl.String, "address": pl.String,
}  # fmt: skip


def _untraced(frame: pl.DataFrame) -> pl.DataFrame:
    """The demographics of rows without a valid NHS number, with every trace column present."""
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in _TRACE_SCHEMA.items() if c not in frame.columns]
    return (
        frame.filter(pl.col("nhs_number").is_null())
        .with_columns(missing)
        .select([pl.col(c).cast(t) for c, t in _TRACE_SCHEMA.items()])
    )


def _read_untraced(path: Path) -> pl.DataFrame:
    """Only the rows without an NHS number, and only their trace columns, read from a staged file."""
    scan = pl.scan_parquet(path)
    present = set(scan.collect_schema().names())
    columns = [c for c in ("nhs_number", *_TRACE_SCHEMA) if c in present]
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
        _untraced(_read_untraced(home.staged(source, month)))
        for source in EXTRACTS
        if source not in GP_SOURCES
        for month in staged_months(home, source)
    ]
    pooled = pl.concat(frames).unique(maintain_order=True) if frames else pl.DataFrame(schema=_TRACE_SCHEMA)
    pooled = pooled.sort(list(_TRACE_SCHEMA), nulls_last=True)
    passes: list[linkage.Tracer] = list(linkage.DEFAULT_PASSES)
    if probabilistic and pooled.height:
        decisions = review.read_decisions(home.review_queue) if home.review_queue.exists() else None
        passes.append(linkage.SplinkPass(decisions=decisions, review_path=home.review_queue, seed=seed))
    result = linkage.trace(pooled, master, passes=passes, namespace="pool")
    results = result.frame.select(*_TRACE_SCHEMA, "nhs_number", "link_method", "link_confidence")
    write_parquet(results, home.trace_results)
    return {f"link/{method}": rows for method, rows in sorted(result.stats.rows.items())}


def _apply_trace(
    records: pl.DataFrame, traced: pl.DataFrame, tokeniser: Tokeniser, source: str
) -> pl.DataFrame:
    """Fill NHS numbers from the pooled trace; untraced rows get a persistent pseudo-ID."""
    keys = _untraced(records.with_columns(pl.lit(None, pl.String).alias("nhs_number"))).with_row_index("_row")
    found = keys.join(traced, on=list(_TRACE_SCHEMA), how="left", nulls_equal=True).sort("_row")
    had_number = pl.col("nhs_number").is_not_null()
    out = records.with_columns(
        pl.when(had_number).then(pl.col("nhs_number")).otherwise(found["nhs_number"]).alias("nhs_number"),
        pl.when(had_number).then(pl.lit("nhs_number")).otherwise(found["link_method"].fill_null("unmatched"))
        .alias("link_method"),
        pl.when(had_number).then(1.0).otherwise(found["link_confidence"].fill_null(0.0)).alias("link_confidence"),
    )  # fmt: skip
    # Pseudo-IDs only for the rows still without a number (HMAC work scales with them, not the file).
    out = out.with_row_index("_row")
    untraced = out.filter(pl.col("nhs_number").is_null())
    local_keys = linkage.pseudo_keys(untraced, namespace=source, local_id=LOCAL_IDS.get(source))
    pseudo = untraced.select("_row", tokeniser.pseudo_id(source, local_keys).alias("pseudo_id"))
    return out.join(pseudo, on="_row", how="left", maintain_order="left").drop(
        "_row", *LOCAL_IDS.values(), strict=False
    )


def build_token_map(home: Home, keys: KeyProvider, registers: Registers) -> int:
    """Tokenise every distinct NHS number of this load once, and put each into the vault once.

    Numbers come from the staged records and the tracing result; opted-out people are left out (their
    records never reach the warehouse, so the vault must not hold them either). Returns the count.
    """
    scans = [
        pl.scan_parquet(home.staged(source, month)).select("nhs_number")
        for source in EXTRACTS
        for month in staged_months(home, source)
    ]
    if home.trace_results.exists():
        scans.append(pl.scan_parquet(home.trace_results).select("nhs_number"))
    opted_out = pl.Series(sorted(registers.opt_outs.ndoo | registers.opt_outs.type1), dtype=pl.String)
    numbers = (
        pl.concat(scans).drop_nulls().unique().filter(~pl.col("nhs_number").is_in(opted_out.implode()))
        .sort("nhs_number").collect()
        if scans
        else pl.DataFrame(schema={"nhs_number": pl.String})
    )  # fmt: skip
    tokeniser = Tokeniser(keys.token_key(), domain="warehouse")
    token_map = numbers.with_columns(person_token=tokeniser.tokenise(numbers["nhs_number"]))
    with Vault.open(home.vault, keys.vault_key()) as vault:
        vault.put_many(token_map["person_token"], token_map["nhs_number"])
    write_parquet(token_map, home.token_map)
    return token_map.height


def pseudonymise_source(source: str, home: Home, keys: KeyProvider, registers: Registers) -> StageCounts:
    """Trace, re-check opt-outs, tokenise (via the load's token map) and de-identify every staged month.

    Traced records can turn out to belong to someone who opted out: they are dropped here and the
    file's reconciliation moves them from loaded to opted out, so the books still balance.
    """
    traced = pl.read_parquet(home.trace_results) if source not in GP_SOURCES else None
    tokeniser = Tokeniser(keys.token_key(), domain="warehouse")
    token_map = pl.read_parquet(home.token_map)
    # The vault was filled once for the whole load by `build_token_map`.

    def one(month: str) -> tuple[pl.DataFrame, dict[str, int]]:
        records = pl.read_parquet(home.staged(source, month))
        links: dict[str, int] = {}
        if source not in GP_SOURCES:
            assert traced is not None  # read above for every non-GP source
            records = _apply_trace(records, traced, tokeniser, source)
            links = dict(records.group_by("link_method").len().iter_rows())
        else:
            records = records.with_columns(link_method=pl.lit("nhs_number"), link_confidence=pl.lit(1.0))
        kept, removed = registers.opt_outs.apply(records, source=source)
        out = deidentify(kept, tokeniser, registers.postcode_lsoa, token_map=token_map)
        write_parquet(out, home.pseudo_staged(source, month))
        _record_trace_opt_outs(home, source, month, removed)
        rec = _final_reconciliation(home, source, month, removed)
        write_parquet(rec, home.ops("reconciliation", source, month))
        return rec, links

    total = StageCounts()
    for rec, links in map_files(one, staged_months(home, source)):
        for method, rows in links.items():
            total.extra[f"link/{method}"] = total.extra.get(f"link/{method}", 0) + rows
        total.loaded += int(rec["loaded"].sum())
        total.opted_out += int(rec["opted_out"].sum())
        total.rows_in += int(rec["rows_in"].sum())
        total.quarantined += int(rec["quarantined"].sum())
        total.excluded += int(rec["excluded"].sum())
    return total


# Columns that identify a person locally (stable across refreshes) and seed their persistent pseudo-ID.
LOCAL_IDS: dict[str, str] = {"asc_cld": "la_person_id"}


def _record_trace_opt_outs(home: Home, source: str, month: str, removed: pl.DataFrame) -> None:
    """Add opt-outs found only after tracing to the month's opt-out counts (kept by the connector)."""
    connector = pl.read_parquet(home.ops_connector("opt_outs", source, month))
    file = extract_filename(source, month)
    extra = removed.with_columns(file=pl.lit(file), month=pl.lit(month)).select(connector.columns)
    combined = (
        pl.concat([connector, extra.cast(connector.schema)])
        .group_by("source", "file", "month", "practice_code", "route")
        .agg(pl.col("rows").sum())
        .sort("practice_code", "route", nulls_last=True)
    )
    write_parquet(combined, home.ops("opt_outs", source, month))


def _final_reconciliation(home: Home, source: str, month: str, removed: pl.DataFrame) -> pl.DataFrame:
    """The connector's reconciliation with trace-stage opt-outs moved from loaded to opted out."""
    rec = pl.read_parquet(home.ops_connector("reconciliation", source, month))
    by_route = dict(removed.group_by("route").agg(pl.col("rows").sum()).iter_rows())
    moved = sum(by_route.values())
    rec = rec.with_columns(
        loaded=pl.col("loaded") - moved,
        opted_out=pl.col("opted_out") + moved,
        **{f"opted_out_{r}": pl.col(f"opted_out_{r}") + n for r, n in by_route.items()},
    )
    row = rec.row(0, named=True)
    if row["rows_in"] != row["loaded"] + row["quarantined"] + row["opted_out"] + row["excluded"]:
        raise connectors.ReconciliationError(
            f"{source} {month}: rows in {row['rows_in']} != loaded {row['loaded']} + quarantined "
            f"{row['quarantined']} + opted out {row['opted_out']} + excluded {row['excluded']}"
        )
    return rec


def publish_warehouse(
    home: Home,
    landing: Path,
    load_id: str,
    *,
    built_at: datetime,
    quality_checks: bool = True,
    timings: dict[str, float] | None = None,
) -> WarehouseStats:
    """Rebuild the analyst warehouse from the pseudonymised zone and swap it in atomically.

    With `quality_checks`, every data quality expectation runs on the building file before the swap and
    its counts land in `dq_results` (a failing check never stops the publish: Dagster's blocking checks
    stop what comes downstream). `timings`, if given, receives the seconds the quality checks took.
    """
    hook = None
    if quality_checks:
        hook = quality.before_publish_hook(home, run_id=load_id, run_at=built_at, as_of=built_at.date())

    def timed(con: duckdb.DuckDBPyConnection) -> None:
        assert hook is not None
        start = time.perf_counter()
        hook(con)
        if timings is not None:
            timings["quality"] = timings.get("quality", 0.0) + time.perf_counter() - start

    return build_warehouse(
        staged_dir=home.pseudo_staged_dir,
        ops_dir=home.ops_dir,
        reference_dir=landing / "reference",
        out_path=home.warehouse,
        load_id=load_id,
        built_at=built_at,
        codelists_dir=Path(__file__).resolve().parents[1] / "codelists",
        before_publish=timed if hook is not None else None,
        after_publish=hook.save if hook is not None else None,
    )
