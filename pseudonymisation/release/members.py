"""The warehouse side of a release: the cohort's members at one practice, read-only, values bound.

Warehouse contract (names in module constants so they can follow the cohort build):
``cohort_member(cohort_id, person_token, reason, built_at)``, ``risk_score(person_token, risk_score,
risk_tier)``, ``features(person_token, frailty_category, frailty_score, segment, ...)`` and
``person(person_token, practice_code, registration_end, death_month, ...)``; ``ref_practice`` gives the
practice's PCN. Identifiers come from these allow-lists, never from input.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

import duckdb
import polars as pl

from core.errors import Refused
from core.layout import Home

__all__ = [
    "COHORT_TABLE",
    "FEATURES_TABLE",
    "FIELD_SOURCES",
    "PERSON_TABLE",
    "PRACTICE_TABLE",
    "RISK_TABLE",
    "Denied",
    "cohort_built_at",
    "field_columns",
    "members",
    "open_warehouse",
    "pcn_of",
    "table_columns",
]


class Denied(Refused):
    """A release or extract check failed: ``reason`` is a code, ``detail`` a few safe words."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


COHORT_TABLE: Final = "cohort_member"  # cohort_id, person_token, reason, built_at
RISK_TABLE: Final = "risk_score"  # person_token, risk_score, risk_tier
FEATURES_TABLE: Final = "features"  # person_token, frailty_category, frailty_score, segment
PERSON_TABLE: Final = "person"  # person_token, practice_code, registration_end, death_month
PRACTICE_TABLE: Final = "ref_practice"  # practice_code, pcn_code

#: Where each releasable field comes from: (table, column). ``nhs_number`` comes from the vault and
#: ``practice_ods`` is the receiving practice itself. ``segment`` is read from the risk table when it
#: has one, else from the features table.
FIELD_SOURCES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "reason": ((COHORT_TABLE, "reason"),),
    "risk_tier": ((RISK_TABLE, "risk_tier"),),
    "risk_score": ((RISK_TABLE, "risk_score"),),
    "segment": ((RISK_TABLE, "segment"), (FEATURES_TABLE, "segment")),
    "efi_category": ((FEATURES_TABLE, "frailty_category"),),
    "efi_score": ((FEATURES_TABLE, "frailty_score"),),
}


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(str(table), set()).add(str(column))
    return out


def open_warehouse(home: Home) -> duckdb.DuckDBPyConnection | None:
    """The published warehouse, read-only (None if there is none yet)."""
    if not home.warehouse.exists():
        return None
    con = duckdb.connect(str(home.warehouse), read_only=True)
    con.sql("SET python_enable_replacements=false")
    return con


def pcn_of(con: duckdb.DuckDBPyConnection | None, columns: dict[str, set[str]], practice: str) -> str | None:
    if con is None or not {"practice_code", "pcn_code"} <= columns.get(PRACTICE_TABLE, set()):
        return None
    rows = con.sql(
        f"SELECT any_value(pcn_code) FROM {PRACTICE_TABLE} WHERE practice_code = $p",  # noqa: S608
        params={"p": practice},
    ).fetchall()
    return None if not rows or rows[0][0] is None else str(rows[0][0])


def cohort_built_at(con: duckdb.DuckDBPyConnection, cohort: str) -> datetime | None:
    rows = con.sql(
        f"SELECT max(built_at) FROM {COHORT_TABLE} WHERE cohort_id = $c",  # noqa: S608
        params={"c": cohort},
    ).fetchall()
    value = rows[0][0] if rows else None
    return value if isinstance(value, datetime) else None


def field_columns(columns: dict[str, set[str]], fields: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """(table, column) for each warehouse-sourced field; raises Denied if the warehouse lacks one."""
    chosen: dict[str, tuple[str, str]] = {}
    for name in fields:
        if name not in FIELD_SOURCES:
            continue
        found = next((tc for tc in FIELD_SOURCES[name] if tc[1] in columns.get(tc[0], set())), None)
        if found is None:
            raise Denied("cohort_unavailable", f"the warehouse has no source for field '{name}'")
        chosen[name] = found
    return chosen


def members(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, set[str]],
    *,
    cohort: str,
    built_at: datetime,
    practice: str,
    on: date,
    fields: dict[str, tuple[str, str]],
) -> pl.DataFrame:
    """The cohort's latest build, restricted to people registered at ``practice`` now (alive)."""
    person_cols = columns.get(PERSON_TABLE, set())
    conditions = ["p.practice_code = $practice"]
    if "registration_end" in person_cols:
        conditions.append("(p.registration_end IS NULL OR p.registration_end >= $on)")
    if "death_month" in person_cols:
        conditions.append("p.death_month IS NULL")
    joins = {t for t, _ in fields.values() if t not in (COHORT_TABLE,)}
    select = ["m.person_token"]
    for name, (table, column) in fields.items():
        alias = {COHORT_TABLE: "m", RISK_TABLE: "r", FEATURES_TABLE: "f"}[table]
        select.append(f"{alias}.{column} AS {name}")
    join_sql = ""
    for table, alias in ((RISK_TABLE, "r"), (FEATURES_TABLE, "f")):
        if table in joins:  # one row per person, whatever the table holds
            one = f"SELECT * FROM {table} QUALIFY row_number() OVER (PARTITION BY person_token) = 1"  # noqa: S608
            join_sql += f" LEFT JOIN ({one}) {alias} USING (person_token)"
    # One row per person: several reasons for the same person are joined, in a stable order.
    query = f"""
        WITH m AS (
            SELECT c.person_token, string_agg(DISTINCT c.reason, '; ' ORDER BY c.reason) AS reason
            FROM {COHORT_TABLE} c
            JOIN {PERSON_TABLE} p ON p.person_token = c.person_token
            WHERE c.cohort_id = $cohort AND c.built_at = $built_at AND {" AND ".join(conditions)}
            GROUP BY c.person_token
        )
        SELECT {", ".join(select)} FROM m{join_sql} ORDER BY m.person_token
    """  # noqa: S608 - identifiers from the allow-lists above, values bound
    params: dict[str, object] = {"cohort": cohort, "built_at": built_at, "practice": practice}
    if "registration_end" in person_cols:
        params["on"] = on
    result = con.sql(query, params=params).pl()
    return result
