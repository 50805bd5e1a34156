"""Sanity checks run on the building file before it may be published. Messages carry table and column
names and counts only, never values."""

from __future__ import annotations

import duckdb

from core.errors import Refused
from linkage.warehouse.schema import ACTIVITY_KEYS, FORBIDDEN_COLUMNS, FORBIDDEN_SUBSTRINGS


class WarehouseCheckError(Refused, RuntimeError):
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
    """Raise WarehouseCheckError on a breach: identifier-like columns, rows without a token, tokens that
    look like NHS numbers, duplicate people.

    Not here: duplicate natural keys and activity tokens missing from `person` are counted by the data
    quality expectations (`record_id_unique`, `token_in_person`) into dq_results. `person` is built from
    the same staged rows as the activity tables, so a non-null token missing from it would be a bug in
    person.sql; `token_in_person` is a blocking check, so it would stop everything downstream.
    """
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
    ((total, distinct),) = con.execute("SELECT count(*), count(DISTINCT person_token) FROM person").fetchall()
    if total != distinct:
        problems.append(f"person: {total - distinct} duplicate person_token rows")
    if problems:
        raise WarehouseCheckError("; ".join(problems))
