"""Run the configured expectations and return counts: the rows of `dq_results`.

Two scopes share one engine (`quality.engine`):

* **source**: per feed, on the pseudonymised staged records (`stg_<source>` inside the warehouse build,
  or a view over `Home.pseudo_staged(<source>)` on its own), plus two counts-only inputs:
  `nhs_status` (the connector's `nhs_number_status` column of the identifiable staged files, nothing
  else is read) and `reconciliation` (the per-file ops counts of rows already quarantined/excluded);
  see `quality.inputs`.
* **warehouse**: on the tables of the warehouse being built (or a published one).

Results hold counts only, never a value from the data: GX runs with SUMMARY and
partial_unexpected_count 0, and only its counts are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import duckdb
import polars as pl

from core.layout import Home
from quality.config import QualityConfig, load_config
from quality.engine import Engine, evaluate
from quality.expectations import ident
from quality.inputs import nhs_view, reconciliation_view, records_view, volume_view
from quality.results import QualityRun, naive_utc


def run_source_checks(
    con: duckdb.DuckDBPyConnection,
    home: Home,
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
    run_at = naive_utc(run_at)
    wanted = list(sources) if sources is not None else config.source_targets
    run = QualityRun(run_id, run_at)
    relations: dict[tuple[str, str], str] = {}
    registered: list[str] = []
    views: list[str] = []
    volumes = []
    try:
        for source in wanted:
            records = f"stg_{source}" if use_staged_tables else records_view(con, source, home)
            views += [] if use_staged_tables else [records, f"_raw_{records}"]
            relations[(source, "records")] = records
            mine = config.for_scope("source", source)
            if any(e.input == "nhs_status" for e in mine):
                relations[(source, "nhs_status")] = nhs_view(con, source, home)
                views += [f"dq_nhs_{source}", f"_raw_dq_nhs_{source}"]
            if any(e.input == "reconciliation" for e in mine):
                relations[(source, "reconciliation")] = reconciliation_view(con, source, home)
                views += [f"dq_rec_{source}", f"_raw_dq_rec_{source}"]
            if any(e.kind == "volume" for e in mine):
                name, current = volume_view(con, source, records, home, run_id, run_at)
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
    run_at = naive_utc(run_at)
    expectations = config.for_scope("warehouse")
    relations = {(e.target, "records"): e.target for e in expectations}
    run = QualityRun(run_id, run_at)
    run.results = evaluate(con, expectations, relations, run_id=run_id, run_at=run_at, as_of=as_of,
                           gx_max_rows=config.gx_max_rows, engine=engine)  # fmt: skip
    return run
