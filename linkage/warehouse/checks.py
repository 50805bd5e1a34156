"""Sanity checks run on the building file before it may be published. Messages carry table and column
names and counts only, never values."""

from __future__ import annotations

import duckdb

from linkage.warehouse.schema import ACTIVITY_KEYS, FORBIDDEN_COLUMNS, FORBIDDEN_SUBSTRINGS


class WarehouseCheckError(RuntimeError):
    """The built warehouse failed a sanity check; it was not published."""


def forbidden_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, column) pairs in the main schema whose name looks like a direct identifier."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY ALL"
    ).fetchall()
    return [
        (t, c)
        for t, c in rows
        if c.lower() in FORBIDDEN_COLUMNS or any(s in c.lower() for s in FORBIDDEN_SUBSTRINGS)
    ]


def run_checks(con: duckdb.DuckDBPyConnection) -> None:
    """Raise WarehouseCheckError on a breach (duplicate natural keys are counted by the data quality
    `unique` expectations into dq_results, not here)."""
    bad = forbidden_columns(con)
    if bad:
        raise WarehouseCheckError(f"identifier-like columns in warehouse: {bad}")
    problems: list[str] = []
    for table in ("person", *ACTIVITY_KEYS):
        nulls, nhs_like = con.execute(
            f"SELECT count(*) FILTER (WHERE person_token IS NULL), "  # noqa: S608 (fixed table names)
            f"count(*) FILTER (WHERE regexp_full_match(person_token, '\\d{{10}}')) FROM {table}"
        ).fetchall()[0]
        if nulls:
            problems.append(f"{table}: {nulls} rows without person_token")
        if nhs_like:
            problems.append(f"{table}: {nhs_like} person_token values look like NHS numbers")
    total, distinct = con.execute("SELECT count(*), count(DISTINCT person_token) FROM person").fetchall()[
        0
    ] or (
        0,
        0,
    )
    if total != distinct:
        problems.append(f"person: {total - distinct} duplicate person_token rows")
    for table in ACTIVITY_KEYS:
        (orphans,) = con.execute(
            f"SELECT count(*) FROM {table} AS a "  # noqa: S608 (fixed table names)
            "WHERE NOT EXISTS (SELECT 1 FROM person AS p WHERE p.person_token = a.person_token)"
        ).fetchall()[0]
        if orphans:
            problems.append(f"{table}: {orphans} rows whose person_token is not in person")
    if problems:
        raise WarehouseCheckError("; ".join(problems))
