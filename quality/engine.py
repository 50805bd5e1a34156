"""Evaluate expectations into `CheckResult`s: units grouped by the frame they read, each group counted
by one GX suite (small frames) or one DuckDB scan (large ones); the two give identical counts by
specification (`quality.expectations`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

import duckdb
import polars as pl

from quality.config import Expectation
from quality.expectations import Frame, Unit, codelist_lookup, ident, merge_plain, units_for
from quality.gx import Counts, by_gx, gx_context
from quality.results import CheckResult, outcome

Engine = Literal["auto", "gx", "sql"]


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

    counts: Counts = {}
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
                    context = gx_context()
                counts |= by_gx(con, context, frame, {i: units[i] for i in gx_units})
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


def _by_sql(con: duckdb.DuckDBPyConnection, frame: Frame, units: dict[int, Unit]) -> Counts:
    """Row-wise units as two FILTERed counts each in one scan of the frame; aggregate units (with their
    own `counts` query over the frame) one query each."""
    out: Counts = {}
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
