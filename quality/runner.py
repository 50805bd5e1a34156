"""Run the configured expectations and return counts: the rows of `dq_results`.

Two scopes share one engine (`quality.expectations`):

* **source**: per feed, on the pseudonymised staged records (`stg_<source>` inside the warehouse build,
  or a view over `pseudonymised/staged/<source>/*.parquet` on its own), plus two counts-only inputs:
  `nhs_status` (the connector's `nhs_number_status` column of the identifiable staged files, nothing
  else is read) and `reconciliation` (the per-file ops counts of rows already quarantined/excluded).
* **warehouse**: on the tables of the warehouse being built (or a published one).

Results hold counts only, never a value from the data: GX runs with SUMMARY and
partial_unexpected_count 0, and only its counts are read.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from linkage.warehouse.schema import DQ_RESULTS_COLUMNS, LINKAGE_RATES_COLUMNS
from quality.config import RECONCILIATION_COLUMNS, Expectation, QualityConfig, load_config
from quality.expectations import Frame, Unit, codelist_lookup, ident, merge_plain, units_for

Engine = Literal["auto", "gx", "sql"]
Outcome = Literal["pass", "warn", "fail"]

#: Columns of the `dq_results` warehouse table (and of the history parquet), with DuckDB types.
_POLARS = {"VARCHAR": pl.String, "TIMESTAMP": pl.Datetime("us"), "BIGINT": pl.Int64, "DOUBLE": pl.Float64}
DQ_RESULTS_SCHEMA: dict[str, Any] = {c: _POLARS[t] for c, t in DQ_RESULTS_COLUMNS.items()}
VOLUME_SCHEMA: dict[str, Any] = {
    "run_id": pl.String, "run_at": pl.Datetime("us"), "source": pl.String, "month": pl.String, "rows": pl.Int64,
}  # fmt: skip


@dataclass(frozen=True)
class CheckResult:
    """One expectation on one asset in one run: counts and the verdict, no data values."""

    run_id: str
    run_at: datetime
    asset: str
    expectation: str
    category: str
    kind: str
    engine: str
    rows_evaluated: int
    rows_failed: int
    pass_pct: float | None
    threshold: float
    severity: str
    outcome: Outcome

    @property
    def message(self) -> str:
        """What a person needs to act: which check, on what, and by how much (counts only)."""
        share = 100.0 - (self.pass_pct if self.pass_pct is not None else 100.0)
        return (
            f"{self.expectation} on {self.asset}: {self.rows_failed} of {self.rows_evaluated} rows failed "
            f"({share:.2f}%, allowed {self.threshold * 100:.2f}%) -> {self.outcome}"
        )


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo: how run_at is stored (DuckDB TIMESTAMP, polars Datetime without zone)."""
    if moment.tzinfo is None:
        return moment
    from datetime import UTC

    return moment.astimezone(UTC).replace(tzinfo=None)


def outcome(evaluated: int, failed: int, threshold: float, severity: str) -> Outcome:
    """pass when the failing share is within the threshold; otherwise fail (block) or warn."""
    if evaluated == 0 or failed / evaluated <= threshold:
        return "pass"
    return "fail" if severity == "block" else "warn"


@dataclass(frozen=True)
class QualityPaths:
    """Where the runner reads inputs and keeps history (the Home layout of docs/architecture.md)."""

    pseudo_staged: Path
    ops: Path
    identifiable_staged: Path | None = None
    history: Path | None = None

    @classmethod
    def under(cls, home_root: Path) -> QualityPaths:
        ops = home_root / "pseudonymised" / "ops"
        return cls(
            pseudo_staged=home_root / "pseudonymised" / "staged",
            ops=ops,
            identifiable_staged=home_root / "identifiable" / "staged",
            history=ops / "dq_history",
        )


@dataclass
class QualityRun:
    """The results of one run, plus the month volumes it saw (kept as history for the next run)."""

    run_id: str
    run_at: datetime
    results: list[CheckResult] = field(default_factory=list)
    volumes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VOLUME_SCHEMA))

    def frame(self) -> pl.DataFrame:
        rows = [asdict(r) for r in self.results]
        return (
            pl.DataFrame(rows, schema=DQ_RESULTS_SCHEMA) if rows else pl.DataFrame(schema=DQ_RESULTS_SCHEMA)
        )

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "fail"]


# --------------------------------------------------------------------------------------------- engine
def evaluate(
    con: duckdb.DuckDBPyConnection,
    expectations: Sequence[Expectation],
    relations: Mapping[tuple[str, str], str],
    *,
    run_id: str,
    run_at: datetime,
    as_of: date,
    gx_max_rows: int = 250_000,
    engine: Engine = "auto",
) -> list[CheckResult]:
    """Evaluate `expectations`; `relations[(target, input)]` names the table/view each one reads.

    Units reading the same frame share one GX suite or one SQL scan. With engine "auto", frames of at
    most `gx_max_rows` rows go to GX and larger ones to SQL (identical counts by specification).
    """
    lookup: Callable[[tuple[str, ...]], list[str]] | None = None
    if any(e.codelists for e in expectations):
        lookup = codelist_lookup(con)
    columns: dict[str, set[str]] = {}
    units: list[Unit] = []
    for n, e in enumerate(expectations):
        relation = relations[(e.target, e.input if e.scope == "source" else "records")]
        if relation not in columns:
            columns[relation] = {r[0] for r in con.execute(f"DESCRIBE {ident(relation)}").fetchall()}
        units += units_for(e, relation, columns[relation], as_of=as_of, codelist_codes=lookup, uid=f"u{n}")

    counts: dict[int, tuple[int, int, str]] = {}
    by_frame: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_frame.setdefault(u.frame.key, []).append(i)
    context = None
    for idxs in by_frame.values():
        frame = merge_plain([units[i].frame for i in idxs])
        sets = {name: values for i in idxs for name, values in units[i].sets.items()}
        for name, values in sets.items():
            con.register(name, pl.DataFrame({"v": values}, schema={"v": pl.String}))
        try:
            gx_units = [i for i in idxs if units[i].gx is not None]
            use_gx = engine == "gx" or (
                engine == "auto" and bool(gx_units) and _rows(con, frame) <= gx_max_rows
            )
            if use_gx and gx_units:
                if context is None:
                    context = _gx_context()
                counts |= _by_gx(con, context, frame, {i: units[i] for i in gx_units})
            counts |= _by_sql(con, frame, {i: units[i] for i in idxs if i not in counts})
        finally:
            for name in sets:
                con.unregister(name)

    results: list[CheckResult] = []
    for e in expectations:
        mine = [counts[i] for i, u in enumerate(units) if u.expectation is e]
        evaluated = sum(c[0] for c in mine)
        failed = sum(c[1] for c in mine)
        engines = sorted({c[2] for c in mine})
        results.append(
            CheckResult(
                run_id=run_id,
                run_at=run_at,
                asset=e.asset,
                expectation=e.id,
                category=e.category,
                kind=e.kind,
                engine="+".join(engines) or "sql",
                rows_evaluated=evaluated,
                rows_failed=failed,
                pass_pct=round(100.0 * (evaluated - failed) / evaluated, 4) if evaluated else None,
                threshold=e.threshold,
                severity=e.severity,
                outcome=outcome(evaluated, failed, e.threshold, e.severity),
            )
        )
    return results


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The first row, fetched completely (duckdb 2.x keeps a half-read result open after fetchone)."""
    rows = con.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else None


def _rows(con: duckdb.DuckDBPyConnection, frame: Frame) -> int:
    """Rows of the frame (to pick the engine). A plain frame, or a table left-joined to the one-row-per-
    person table, has its relation's row count, which DuckDB answers without running the frame."""
    kind, _, relation = frame.key.partition(":")
    if kind in ("plain", "person"):
        row = _one(con, f"SELECT count(*) FROM {ident(relation)}", {})  # noqa: S608
        return int(row[0]) if row else 0
    row = _one(con, f"SELECT count(*) FROM ({frame.sql})", frame.params)  # noqa: S608
    return int(row[0]) if row else 0


def _by_sql(
    con: duckdb.DuckDBPyConnection, frame: Frame, units: dict[int, Unit]
) -> dict[int, tuple[int, int, str]]:
    out: dict[int, tuple[int, int, str]] = {}
    rowwise = {i: u for i, u in units.items() if u.counts is None}
    if rowwise:
        aggs, params = [], dict(frame.params)
        for u in rowwise.values():
            aggs += [
                f"count(*) FILTER (WHERE {u.evaluated})",
                f"count(*) FILTER (WHERE ({u.evaluated}) AND ({u.failed}))",
            ]
            params |= u.params
        used = {k: v for k, v in params.items() if f"${k}" in frame.sql or any(f"${k}" in a for a in aggs)}
        row = _one(con, f"SELECT {', '.join(aggs)} FROM ({frame.sql})", used)  # noqa: S608
        values = list(row) if row else [0] * len(aggs)
        for n, i in enumerate(rowwise):
            out[i] = (int(values[2 * n] or 0), int(values[2 * n + 1] or 0), "sql")
    for i, u in units.items():
        if u.counts is not None:
            got = _one(con, u.counts.replace("{frame}", frame.sql), frame.params)
            out[i] = (int(got[0] or 0), int(got[1] or 0), "sql") if got else (0, 0, "sql")
    return out


def load_gx() -> None:
    """Import Great Expectations and make this process's context now (the import alone takes ~5-9 s).

    Long-lived processes pay it once; the pipeline benchmark calls this before its clock starts, as it
    does for polars and DuckDB, so it times the checks rather than a one-off import.
    """
    _gx_context()


@cache
def _gx_context() -> Any:
    """An ephemeral GX context with progress bars off, one per process (GX makes a temp docs folder
    for each context it creates); data sources are deleted after each validation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _by_gx(
    con: duckdb.DuckDBPyConnection, context: Any, frame: Frame, units: dict[int, Unit]
) -> dict[int, tuple[int, int, str]]:
    """Validate the frame as a pandas batch with one suite holding every unit's expectation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx

        df = con.execute(frame.sql, frame.params).df()
        name = f"dq_{uuid.uuid4().hex}"
        source = context.data_sources.add_pandas(name=name)
        try:
            batch = (
                source.add_dataframe_asset(name="frame")
                .add_batch_definition_whole_dataframe("whole")
                .get_batch(batch_parameters={"dataframe": df})
            )
            suite = gx.ExpectationSuite(name=name)
            for i, u in units.items():
                assert u.gx is not None
                expectation = u.gx(gx.expectations)
                expectation.meta = {**(expectation.meta or {}), "dq_unit": i}
                suite.add_expectation(expectation)
            validation = batch.validate(
                suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0}
            )
        finally:
            # The context lives as long as the process: drop the data source so the records go too.
            context.data_sources.delete(name)
    out: dict[int, tuple[int, int, str]] = {}
    for r in validation.results:
        i = int(r.expectation_config.meta["dq_unit"])
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"GX could not evaluate {units[i].expectation.id} on {units[i].expectation.asset}"
            )
        res = r.result
        element = int(res.get("element_count", 0))
        missing = int(res.get("missing_count") or 0)
        evaluated = element if units[i].expectation.kind == "not_null" else element - missing
        out[i] = (evaluated, int(res.get("unexpected_count") or 0), "gx")
    return out


# ------------------------------------------------------------------------------------------ inputs
def _files(folder: Path | None, pattern: str = "*.parquet") -> list[str]:
    return [str(p) for p in sorted(folder.glob(pattern))] if folder is not None and folder.is_dir() else []


def _parquet_view(con: duckdb.DuckDBPyConnection, name: str, files: list[str], empty: str) -> set[str]:
    """A temp view over `files` (union_by_name); `empty` is a typed zero-row SELECT used without files."""
    if files:
        con.read_parquet(files, union_by_name=True).create_view(ident(f"_raw_{name}"), replace=True)
        return {r[0] for r in con.execute(f"DESCRIBE _raw_{ident(name)}").fetchall()}
    con.execute(f"CREATE OR REPLACE TEMP VIEW _raw_{ident(name)} AS {empty}")
    return set()


def _records_view(con: duckdb.DuckDBPyConnection, source: str, paths: QualityPaths) -> str:
    from linkage.warehouse.schema import STAGED_COLUMNS

    schema = STAGED_COLUMNS[source]
    name = f"dq_src_{source}"
    empty = "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in schema.items()) + " WHERE false"
    present = _parquet_view(con, name, _files(paths.pseudo_staged / source), empty)
    cols = ", ".join(
        (f"CAST({c} AS {t}) AS {c}" if (c in present or not present) else f"NULL::{t} AS {c}")
        for c, t in schema.items()
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} FROM _raw_{name}")  # noqa: S608
    return name


def _nhs_view(con: duckdb.DuckDBPyConnection, source: str, paths: QualityPaths) -> str:
    """Counts-only view of the identifiable staged records: two booleans from nhs_number_status."""
    name = f"dq_nhs_{source}"
    folder = paths.identifiable_staged / source if paths.identifiable_staged else None
    present = _parquet_view(
        con, name, _files(folder), "SELECT NULL::VARCHAR AS nhs_number_status WHERE false"
    )
    status = "nhs_number_status" if (not present or "nhs_number_status" in present) else "NULL::VARCHAR"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT "  # noqa: S608
        f"{status} IS DISTINCT FROM 'missing' AS nhs_number_present, "
        f"CASE WHEN {status} IS DISTINCT FROM 'missing' THEN {status} = 'valid' END AS nhs_number_valid "
        f"FROM _raw_{name}"
    )
    return name


def _reconciliation_view(con: duckdb.DuckDBPyConnection, source: str, paths: QualityPaths) -> str:
    name = f"dq_rec_{source}"
    empty = "SELECT NULL::BIGINT AS rows_in WHERE false"
    present = _parquet_view(con, name, _files(paths.ops / "reconciliation", f"{source}_*.parquet"), empty)
    cols = ", ".join(
        f"coalesce(CAST({c} AS BIGINT), 0) AS {c}" if c in present else f"0::BIGINT AS {c}"
        for c in ("rows_in", *RECONCILIATION_COLUMNS)
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} FROM _raw_{name}")  # noqa: S608
    return name


def _volume_view(
    con: duckdb.DuckDBPyConnection,
    source: str,
    relation: str,
    paths: QualityPaths,
    run_id: str,
    run_at: datetime,
) -> tuple[str, pl.DataFrame]:
    """Rows per file month now, against the previous load of that month (else the 3 months before)."""
    now = con.sql(
        f"SELECT regexp_extract(source_file, '(\\d{{4}}-\\d{{2}})\\.csv$', 1) AS month, count(*) AS rows "  # noqa: S608
        f"FROM {ident(relation)} GROUP BY ALL HAVING month <> '' ORDER BY month"
    ).pl()
    current = now.select(
        pl.lit(run_id).alias("run_id"), pl.lit(run_at).cast(pl.Datetime("us")).alias("run_at"),
        pl.lit(source).alias("source"), pl.col("month").cast(pl.String), pl.col("rows").cast(pl.Int64),
    )  # fmt: skip
    history = _read_history(paths, "volume_*.parquet", VOLUME_SCHEMA).filter(
        (pl.col("source") == source) & (pl.col("run_id") != run_id) & (pl.col("run_at") <= run_at)
    )
    previous = (
        history.sort("run_at").group_by("month").agg(pl.col("rows").last().alias("previous"))
        if history.height
        else pl.DataFrame(schema={"month": pl.String, "previous": pl.Int64})
    )
    trailing = current.sort("month").with_columns(
        pl.col("rows").shift(1).rolling_median(window_size=3, min_samples=1).alias("trailing")
    )
    table = trailing.join(previous, on="month", how="left").with_columns(
        (pl.col("rows") / pl.coalesce(pl.col("previous").cast(pl.Float64), pl.col("trailing"))).alias("ratio")
    )
    name = f"dq_volume_{source}"
    con.register(name, table.select("month", "rows", "ratio"))
    return name, current


def _read_history(paths: QualityPaths, pattern: str, schema: dict[str, Any]) -> pl.DataFrame:
    files = _files(paths.history, pattern)
    if not files:
        return pl.DataFrame(schema=schema)
    return pl.concat([pl.read_parquet(f).cast(schema) for f in files], how="vertical")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- API
def run_source_checks(
    con: duckdb.DuckDBPyConnection,
    paths: QualityPaths,
    *,
    run_id: str,
    run_at: datetime,
    as_of: date,
    sources: Iterable[str] | None = None,
    config: QualityConfig | None = None,
    use_staged_tables: bool = False,
    engine: Engine = "auto",
) -> QualityRun:
    """Source-scope expectations for `sources` (default: every configured source).

    Records are read from `stg_<source>` when `use_staged_tables` (inside the warehouse build) or from
    the pseudonymised staged parquet otherwise. Temporary views/registrations are removed afterwards.
    """
    config = config or load_config()
    run_at = _naive(run_at)
    wanted = list(sources) if sources is not None else config.source_targets
    run = QualityRun(run_id, run_at)
    relations: dict[tuple[str, str], str] = {}
    registered: list[str] = []
    views: list[str] = []
    volumes = []
    try:
        for source in wanted:
            records = f"stg_{source}" if use_staged_tables else _records_view(con, source, paths)
            views += [] if use_staged_tables else [records, f"_raw_{records}"]
            relations[(source, "records")] = records
            mine = config.for_scope("source", source)
            if any(e.input == "nhs_status" for e in mine):
                relations[(source, "nhs_status")] = _nhs_view(con, source, paths)
                views += [f"dq_nhs_{source}", f"_raw_dq_nhs_{source}"]
            if any(e.input == "reconciliation" for e in mine):
                relations[(source, "reconciliation")] = _reconciliation_view(con, source, paths)
                views += [f"dq_rec_{source}", f"_raw_dq_rec_{source}"]
            if any(e.kind == "volume" for e in mine):
                name, current = _volume_view(con, source, records, paths, run_id, run_at)
                registered.append(name)
                volumes.append(current)
                # The volume unit reads `ratio` from its own relation, keyed by the records input.
                relations[(source, "volume")] = name
        expectations = [e for s in wanted for e in config.for_scope("source", s)]
        keyed = {k: v for k, v in relations.items() if k[1] != "volume"}
        plain = [e for e in expectations if e.kind != "volume"]
        run.results += evaluate(con, plain, keyed, run_id=run_id, run_at=run_at, as_of=as_of,
                                gx_max_rows=config.gx_max_rows, engine=engine)  # fmt: skip
        volume = [e for e in expectations if e.kind == "volume"]
        if volume:
            vol_rel: dict[tuple[str, str], str] = {
                (e.target, "records"): relations[(e.target, "volume")] for e in volume
            }
            run.results += evaluate(con, volume, vol_rel, run_id=run_id, run_at=run_at, as_of=as_of,
                                    gx_max_rows=config.gx_max_rows, engine=engine)  # fmt: skip
        if volumes:
            run.volumes = pl.concat(volumes)
    finally:
        for name in registered:
            con.unregister(name)
        for view in views:
            con.execute(f"DROP VIEW IF EXISTS {ident(view)}")
    order = {(e.asset, e.id): n for n, e in enumerate(config.expectations)}
    run.results.sort(key=lambda r: order.get((r.asset, r.expectation), 0))
    return run


def run_warehouse_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    run_at: datetime,
    as_of: date,
    config: QualityConfig | None = None,
    engine: Engine = "auto",
) -> QualityRun:
    """Warehouse-scope expectations on the tables reachable through `con` (building or published file)."""
    config = config or load_config()
    run_at = _naive(run_at)
    expectations = config.for_scope("warehouse")
    relations = {(e.target, "records"): e.target for e in expectations}
    run = QualityRun(run_id, run_at)
    run.results = evaluate(con, expectations, relations, run_id=run_id, run_at=run_at, as_of=as_of,
                           gx_max_rows=config.gx_max_rows, engine=engine)  # fmt: skip
    return run


def write_dq_results(con: duckdb.DuckDBPyConnection, results: pl.DataFrame) -> None:
    """(Re)create the `dq_results` table in the connected database from a results frame."""
    _replace_table(con, "dq_results", DQ_RESULTS_COLUMNS, results)


def _replace_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], frame: pl.DataFrame
) -> None:
    """(Re)create `table` with the fixed `columns` (name -> DuckDB type) and the rows of `frame`."""
    ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
    con.execute(f"DROP TABLE IF EXISTS {ident(table)}")
    con.execute(f"CREATE TABLE {ident(table)} ({ddl})")
    if frame.height:
        con.register("_replace_table_in", frame.select(list(columns)))
        try:
            con.execute(f"INSERT INTO {ident(table)} SELECT * FROM _replace_table_in")  # noqa: S608
        finally:
            con.unregister("_replace_table_in")


def _write_atomic(frame: pl.DataFrame, target: Path) -> None:
    """Write a parquet file via a temp name, so a reader never finds half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    frame.write_parquet(tmp)
    tmp.replace(target)


def save_history(paths: QualityPaths, run: QualityRun) -> None:
    """Keep this run's results and month volumes (ops zone, counts only) for trends and volume checks."""
    if paths.history is None:
        return
    for stem, frame in (("results", run.frame()), ("volume", run.volumes)):
        _write_atomic(frame, paths.history / f"{stem}_{run.run_id}.parquet")


def linkage_rates_path(paths: QualityPaths, run_id: str) -> Path | None:
    """Where a run's published linkage rates are kept (ops zone, next to the check history)."""
    return paths.history / f"linkage_{run_id}.parquet" if paths.history is not None else None


def load_linkage_rates(paths: QualityPaths, run_id: str, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The run's kept linkage rates; computed from `con` and the pseudonymised staged files if absent."""
    from linkage.linkage_quality import linkage_rates

    kept = linkage_rates_path(paths, run_id)
    if kept is not None and kept.exists():
        return pl.read_parquet(kept)
    return linkage_rates(con, paths.pseudo_staged)


def load_history(paths: QualityPaths) -> pl.DataFrame:
    """Every saved run's results, oldest first (for the trend over loads)."""
    return _read_history(paths, "results_*.parquet", DQ_RESULTS_SCHEMA).sort("run_at", "run_id")


class QualityHook:
    """Checks for a warehouse build: called on the building file (`build_warehouse(before_publish=)`)
    it runs every check and writes `dq_results` and `linkage_rates` into that file; `save()`, called
    once the file is published (`after_publish=`), keeps the run in the history. A build that fails
    after the checks therefore leaves no history behind for the next load's volume checks to trust.
    It never raises for a failing check (a blocking outcome stops downstream assets through the
    Dagster checks, not the publish)."""

    def __init__(
        self, paths: QualityPaths, *, run_id: str, run_at: datetime, as_of: date,
        config: QualityConfig | None = None, engine: Engine = "auto",
    ) -> None:  # fmt: skip
        self.paths, self.run_id, self.run_at, self.as_of = paths, run_id, run_at, as_of
        self.config, self.engine = config, engine
        self.run: QualityRun | None = None
        self.rates: pl.DataFrame | None = None

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        common = {"run_id": self.run_id, "run_at": self.run_at, "as_of": self.as_of, "config": self.config,
                  "engine": self.engine}  # fmt: skip
        run = run_source_checks(con, self.paths, use_staged_tables=True, **common)  # type: ignore[arg-type]
        run.results += run_warehouse_checks(con, **common).results  # type: ignore[arg-type]
        from linkage.linkage_quality import linkage_rates

        self.run, self.rates = run, linkage_rates(con, self.paths.pseudo_staged)
        write_dq_results(con, run.frame())
        write_linkage_rates(con, self.rates)

    def save(self) -> None:
        """Keep the published run's results, volumes and linkage rates in the history (ops zone)."""
        if self.run is None or self.rates is None:
            raise RuntimeError("QualityHook.save() before the checks ran")
        save_history(self.paths, self.run)
        target = linkage_rates_path(self.paths, self.run_id)
        if target is not None:
            _write_atomic(self.rates, target)


def before_publish_hook(
    paths: QualityPaths,
    *,
    run_id: str,
    run_at: datetime,
    as_of: date,
    config: QualityConfig | None = None,
    engine: Engine = "auto",
) -> QualityHook:
    """A `QualityHook`: pass it as `before_publish` and its `save` as `after_publish` to the build."""
    return QualityHook(paths, run_id=run_id, run_at=run_at, as_of=as_of, config=config, engine=engine)


def write_linkage_rates(con: duckdb.DuckDBPyConnection, rates: pl.DataFrame) -> None:
    """(Re)create the warehouse's `linkage_rates` table (disclosure-controlled counts and shares)."""
    # The warehouse spells no_valid_nhs as untraceable_on_arrival: no column there may say "nhs".
    renamed = rates.rename(lambda c: c.replace("no_valid_nhs", "untraceable_on_arrival"))
    _replace_table(con, "linkage_rates", LINKAGE_RATES_COLUMNS, renamed)


def results_from_table(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """The `dq_results` rows of a warehouse as CheckResults (empty when the table is absent)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'dq_results'"
    ).fetchall()
    if not found or not found[0][0]:
        return []
    frame = con.sql(f"SELECT {', '.join(DQ_RESULTS_COLUMNS)} FROM dq_results").pl()  # noqa: S608
    return [CheckResult(**row) for row in frame.iter_rows(named=True)]
