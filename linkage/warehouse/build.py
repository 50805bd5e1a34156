"""Build the analyst warehouse into a fresh file and publish it atomically (pseudonymised zone).

The warehouse is a pure function of the staged pseudonymised parquet, the ops parquet and the reference
files: every build starts from an empty file, so re-running a month (which overwrites its staged
parquet) replaces that month's rows and can never duplicate them. The file is built and checked
beside the published one and swapped in (`core.publish.swap_in`): readers that already
hold the old file keep reading it, new readers get the new one, and a failed build leaves the
published file untouched. A load that adds more tables before publishing (the cohort step) passes
`build=` instead: the tables are made in that private build file, which the load publishes at its end
(`core.publish.publish_build`), so the whole load is published in one step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import duckdb

from core.faults import pause_point
from core.publish import swap_in, write_build
from linkage.warehouse.books import publish_reconciliation
from linkage.warehouse.checks import WarehouseCheckError, run_checks
from linkage.warehouse.identifier_scan import scan_identifiers
from linkage.warehouse.opt_outs import publish_opt_outs, read_exact
from linkage.warehouse.reference import load_reference
from linkage.warehouse.schema import (
    BOOKS_OPS_KIND,
    BUILT_COLUMNS,
    DQ_RESULTS_COLUMNS,
    FORBIDDEN_COLUMNS,
    LANDING_INVENTORY,
    LINKAGE_RATES_COLUMNS,
    OPS_TABLES,
    OPT_OUT_OPS_KIND,
    STAGED_COLUMNS,
    TABLES,
)
from pseudonymisation.name_digests import NameDigests

_SQL_SCRIPTS = ("activity.sql", "person.sql")


@dataclass(frozen=True)
class WarehouseStats:
    """Counts from one build: rows per published table (duplicate keys are in dq_results)."""

    path: Path
    load_id: str
    rows: dict[str, int] = field(default_factory=dict)
    unclassified_mhsds: int = 0
    scan_seconds: float = 0.0  # the value-level identifier scan, timed for `phm bench pipeline`


def build_warehouse(
    staged_dir: Path,
    ops_dir: Path,
    reference_dir: Path,
    out_path: Path,
    *,
    load_id: str,
    built_at: datetime,
    codelists_dir: Path | None = None,
    non_sharing_practices: Path | None = None,
    before_publish: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    after_publish: Callable[[], None] | None = None,
    build: Path | None = None,
    identifier_names: NameDigests | None = None,
) -> WarehouseStats:
    """Build the warehouse from `staged_dir/<source>/<YYYY-MM>.parquet` and publish it at `out_path`.

    `built_at` is recorded in `load_log` (passed in, so a build is deterministic). The non-sharing
    register defaults to `reference_dir/../registers/non_sharing_practices.csv` when it exists.
    `before_publish` runs on the building connection after the tables exist and before the checks
    (e.g. quality results written into the same file); if it raises, nothing is published.
    `after_publish` runs once the new file is complete (e.g. keeping the quality run in its history).
    With `build` (a `core.publish.build_path`), the tables are made in that private file and left
    there for the load to add to and publish; `out_path` is then not touched.
    `identifier_names` (the GP master's names as keyed digests) feed the value-level identifier scan,
    which refuses to publish a text value shaped like an identifier (`identifier_scan.py`).
    """
    if non_sharing_practices is None:
        default = reference_dir.parent / "registers" / "non_sharing_practices.csv"
        non_sharing_practices = default if default.is_file() else None
    # Bounded memory: DuckDB's default is 80 % of RAM; spill to disk beyond this instead.
    config = {"memory_limit": BUILD_MEMORY_LIMIT, "preserve_insertion_order": False}
    writer = (
        swap_in(out_path, config=config)
        if build is None
        else write_build(build, published=out_path, fresh=True, config=config)
    )
    with writer as con:
        _stage(con, staged_dir)
        load_reference(con, reference_dir, codelists_dir, non_sharing_practices)
        for kind_table, (kind_dir, schema) in OPS_TABLES.items():
            _load_parquet(con, kind_table, schema, sorted((ops_dir / kind_dir).glob("*.parquet")), temp=False)
        opt_outs = publish_opt_outs(
            con,
            read_exact(sorted((ops_dir / OPT_OUT_OPS_KIND).glob("*.parquet"))),
            con.sql("SELECT practice_code, pcn_code, place FROM ref_practice").pl(),
        )
        books = sorted((ops_dir / BOOKS_OPS_KIND).glob("*.parquet"))
        publish_reconciliation(con, books, opt_outs["opt_out_summary"])  # the exact books checked first
        for script in _SQL_SCRIPTS:
            con.execute(resources.files("linkage.warehouse").joinpath("sql", script).read_text("utf-8"))
        pause_point("warehouse_built")
        (unclassified,) = con.execute(
            "SELECT count(*) FROM stg_mhsds WHERE upper(trim(record_type)) NOT IN ('REFERRAL', 'CONTACT', 'SPELL')"
            " OR record_type IS NULL"
        ).fetchall()[0]
        if before_publish is not None:
            before_publish(con)
        ddl = ", ".join(f"{c} {t}" for c, t in DQ_RESULTS_COLUMNS.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS dq_results ({ddl})")
        ddl = ", ".join(f"{c} {t}" for c, t in LINKAGE_RATES_COLUMNS.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS linkage_rates ({ddl})")
        run_checks(con)
        started = time.perf_counter()
        scan_identifiers(con, identifier_names)
        scan_seconds = time.perf_counter() - started
        rows = _log(con, load_id, built_at, ops_dir / LANDING_INVENTORY)
        for (temp,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
            con.execute(f"DROP TABLE temp.{temp}")
    if after_publish is not None:
        after_publish()
    return WarehouseStats(build or out_path, load_id, rows, int(unclassified), scan_seconds)


BUILD_MEMORY_LIMIT = "3GB"


def _stage(con: duckdb.DuckDBPyConnection, staged_dir: Path) -> None:
    """One typed temp table stg_<source> per source (empty when the source has no files yet)."""
    for source, schema in STAGED_COLUMNS.items():
        files = sorted((staged_dir / source).glob("*.parquet"))
        _load_parquet(con, f"stg_{source}", schema, files, temp=True)


def _load_parquet(
    con: duckdb.DuckDBPyConnection, table: str, schema: dict[str, str], files: list[Path], *, temp: bool
) -> None:
    """Create `table` with the allow-listed schema and insert the allow-listed columns of `files`.

    Identifiers come from the fixed schema dicts; the file list is bound as a parameter. Columns a file
    lacks stay null (union_by_name); a file carrying an identifying column is refused.
    """
    ddl = ", ".join(f"{col} {dtype}" for col, dtype in schema.items())
    if not files:
        con.execute(f"CREATE {'TEMP ' if temp else ''}TABLE {table} ({ddl})")
        return
    paths = {"files": [str(f) for f in files]}
    described = con.execute("DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true)", paths)
    present = {row[0] for row in described.fetchall()}
    leaked = sorted(c for c in present if c.lower() in FORBIDDEN_COLUMNS)
    if leaked:
        raise WarehouseCheckError(f"{table}: input parquet carries identifying columns {leaked}")
    # Every allow-listed column, typed; columns the files lack are typed nulls.
    casts = ", ".join(
        f"CAST({c} AS {t}) AS {c}" if c in present else f"CAST(NULL AS {t}) AS {c}" for c, t in schema.items()
    )
    select = f"SELECT {casts} FROM read_parquet({_file_list(files)}, union_by_name = true)"  # noqa: S608
    if temp:
        # Staged sources are read straight from parquet (a view): copying tens of millions of rows
        # into temp tables first cost time and memory for nothing.
        con.execute(f"CREATE TEMP VIEW {table} AS {select}")
    else:
        con.execute(f"CREATE TABLE {table} AS {select}")


def _file_list(files: list[Path]) -> str:
    """A SQL list literal of file paths (views cannot take bound parameters). The paths are our own
    staged files; a quote in one is refused rather than escaped."""
    paths = [str(f) for f in files]
    if any("'" in p for p in paths):
        raise WarehouseCheckError("a staged file path contains a quote character")
    return "[" + ", ".join(f"'{p}'" for p in paths) + "]"


def _log(con: duckdb.DuckDBPyConnection, load_id: str, built_at: datetime, inventory: Path) -> dict[str, int]:
    """Count rows of every published table and record them in load_log (one row per table), then one
    row per landing entry from the load's inventory (`connectors.landing`: loaded or why not)."""
    rows: dict[str, int] = {}
    for table in TABLES:
        if table != "load_log":
            (n,) = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]  # noqa: S608 (fixed names)
            rows[table] = int(n)
    ddl = ", ".join(f"{c} {t}" for c, t in BUILT_COLUMNS["load_log"].items())
    con.execute(f"CREATE TABLE load_log ({ddl})")
    con.executemany(
        "INSERT INTO load_log (load_id, built_at, table_name, rows) VALUES (?, ?, ?, ?)",
        [(load_id, built_at, t, n) for t, n in rows.items()],
    )
    if inventory.is_file():
        con.execute(
            "INSERT INTO load_log (load_id, built_at, landing_entry, status, reason) "
            "SELECT ?, ?, path, status, reason FROM read_parquet(?)",
            [load_id, built_at, str(inventory)],
        )
    (n_log,) = con.execute("SELECT count(*) FROM load_log").fetchall()[0]
    rows["load_log"] = int(n_log)
    return rows


def open_read_only(path: Path | str) -> duckdb.DuckDBPyConnection:
    """The analyst way in: a read-only connection to the published warehouse as it is now.

    Attaches the file READ_ONLY to a fresh in-memory database and makes it the default, rather than
    `duckdb.connect(path, read_only=True)`, because DuckDB caches database instances per path within a
    process: a second plain connect would reuse the instance still holding the previous (replaced)
    file. Each call here opens the file afresh, so it always sees the latest published build.
    """
    con = duckdb.connect(":memory:")
    con.execute("SET python_enable_replacements = false")
    con.execute("ATTACH $path AS warehouse (READ_ONLY)", {"path": str(path)})
    con.execute("USE warehouse")
    return con
