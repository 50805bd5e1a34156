"""Expectation kinds: how each is checked by Great Expectations and, at scale, by DuckDB SQL.

Every configured expectation becomes one or more *units* (one per column for multi-column kinds).
A unit names the frame it reads (a SELECT over a relation: the staged records, a warehouse table, or
a small derived/aggregated frame), the GX 1.x expectation that validates that frame, and the same rule
as two SQL predicates (which rows are evaluated, which of those fail). The two engines are specified
to give identical counts (tests run both on the same inline frames); `quality.engine` picks GX for frames up
to `gx_max_rows` and SQL above, because GX on pandas needs the whole frame in memory and is roughly a
hundred times slower per row than a DuckDB aggregate.

Only counts leave here: GX runs with result_format SUMMARY and partial_unexpected_count 0, and the
engine reads `element_count`, `missing_count` and `unexpected_count` only.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from connectors.spec import PATTERNS
from quality.config import Expectation

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

# A GX expectation built lazily (importing great_expectations costs seconds; SQL-only runs skip it).
GxFactory = Callable[[Any], Any]


@dataclass(frozen=True)
class Frame:
    """A SELECT whose rows a unit validates; `key` groups units that can share one frame/suite/scan."""

    key: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()  # for plain frames: the relation's columns the units read


def merge_plain(frames: list[Frame]) -> Frame:
    """One frame selecting everything the units of one relation read (one scan, one suite): plain
    columns, or the expressions of the relation joined to `person` (birth, death, token present)."""
    first = frames[0]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    if first.key.startswith("plain:"):
        return _plain(first.key.removeprefix("plain:"), columns)
    if first.key.startswith("person:"):
        return _person_frame(first.key.removeprefix("person:"), columns)
    return first


# Expressions over `<relation> AS t LEFT JOIN person AS p`, by output column name; `{c}` is a date column.
_PERSON_EXPRS = {
    "token_in_person": "p.person_token IS NOT NULL",
    "birth_year_month": "p.birth_year_month",
    "death_month": "p.death_month",
}


def _person_frame(relation: str, columns: list[str]) -> Frame:
    """Activity rows joined once to person; `columns` are output names (`month_<date column>` or
    keys of _PERSON_EXPRS). Joining once per table, not once per rule, halves the cost at scale."""
    exprs = []
    for name in columns:
        if name.startswith("month_"):
            exprs.append(f"strftime(t.{ident(name.removeprefix('month_'))}, '%Y-%m') AS {ident(name)}")
        else:
            exprs.append(f"{_PERSON_EXPRS[name]} AS {ident(name)}")
    return Frame(
        key=f"person:{relation}", sql=_person_join(relation, ", ".join(exprs)), columns=tuple(columns)
    )


@dataclass(frozen=True)
class Unit:
    """One rule on one frame, in both engines. `evaluated`/`failed` are SQL boolean expressions.

    `counts` overrides the predicates for rules that are not row-wise (duplicate groups): a SQL query
    returning (evaluated, failed) over the frame.
    """

    expectation: Expectation
    frame: Frame
    gx: GxFactory | None
    evaluated: str
    failed: str
    params: dict[str, Any] = field(default_factory=dict)
    counts: str | None = None
    sets: dict[str, list[str]] = field(default_factory=dict)  # temp tables of values to register


def ident(name: str) -> str:
    """An identifier from config/schema, checked before it goes into SQL (values are always bound)."""
    if not _IDENT.match(name):
        raise ValueError(f"not an allowed identifier: {name!r}")
    return name


def _gx(cls: str, **kwargs: Any) -> GxFactory:
    """A deferred `gx.expectations.<cls>(**kwargs)` (built only when the GX engine runs)."""
    return lambda expectations: getattr(expectations, cls)(**kwargs)


def _mostly(e: Expectation) -> float:
    return max(0.0, 1.0 - e.threshold)


def _plain(relation: str, columns: list[str]) -> Frame:
    cols = ", ".join(ident(c) for c in dict.fromkeys(columns))
    return Frame(
        key=f"plain:{relation}",
        sql=f"SELECT {cols} FROM {ident(relation)}",  # noqa: S608 (identifiers checked)
        columns=tuple(columns),
    )


def _person_join(relation: str, exprs: str) -> str:
    return (
        f"SELECT {exprs} FROM {ident(relation)} AS t "  # noqa: S608 (identifiers checked)
        "LEFT JOIN person AS p ON p.person_token = t.person_token"
    )


def units_for(
    e: Expectation,
    relation: str,
    relation_columns: set[str],
    *,
    as_of: date,
    codelist_codes: Callable[[tuple[str, ...]], list[str]] | None = None,
    uid: str = "u",
) -> list[Unit]:
    """The units of expectation `e` on `relation` (whose columns are `relation_columns`).

    `uid` makes parameter and temp-table names unique within one combined SQL query.
    """
    missing = [c for c in (*e.columns, *([e.group_by] if e.group_by else [])) if c not in relation_columns]
    if missing and e.kind not in ("after_birth", "before_death", "in_person"):
        raise ValueError(f"{e.asset}: {e.id} names column(s) {missing} that {relation} does not have")
    meta = {"dq_id": e.id, "dq_asset": e.asset}
    out: list[Unit] = []
    k = e.kind
    for i, col in enumerate(e.columns if k not in ("pair_order", "unique", "volume") else [""]):
        p = f"{uid}_{i}"
        c = ident(col) if col else ""
        if k == "not_null":
            out.append(
                Unit(e, _plain(relation, [col]),
                     _gx("ExpectColumnValuesToNotBeNull", column=c, mostly=_mostly(e), meta=meta),
                     "true", f"{c} IS NULL")
            )  # fmt: skip
        elif k == "match_pattern":
            regex = PATTERNS[e.pattern or ""]
            out.append(
                Unit(e, _plain(relation, [col]),
                     _gx("ExpectColumnValuesToMatchRegex", column=c, regex=regex, mostly=_mostly(e), meta=meta),
                     f"{c} IS NOT NULL", f"NOT regexp_matches({c}, ${p})", {p: regex})
            )  # fmt: skip
        elif k in ("in_set", "not_in_set"):
            values = list(e.values or [])
            if e.codelists:
                if codelist_codes is None:
                    raise ValueError(f"{e.asset}: {e.id} needs ref_codelist (codelists)")
                values += codelist_codes(e.codelists)
            values = sorted(set(values))
            table = f"_dq_set_{p}"
            neg = "NOT " if k == "in_set" else ""
            cls = "ExpectColumnValuesToBeInSet" if k == "in_set" else "ExpectColumnValuesToNotBeInSet"
            out.append(
                Unit(e, _plain(relation, [col]),
                     _gx(cls, column=c, value_set=values, mostly=_mostly(e), meta=meta),
                     f"{c} IS NOT NULL", f"{neg}({c} IN (SELECT v FROM {table}))",  # noqa: S608
                     sets={table: values})
            )  # fmt: skip
        elif k == "is_true":
            out.append(
                Unit(e, _plain(relation, [col]),
                     _gx("ExpectColumnValuesToBeInSet", column=c, value_set=[True], mostly=_mostly(e), meta=meta),
                     f"{c} IS NOT NULL", f"NOT {c}")
            )  # fmt: skip
        elif k == "not_in_future":
            out.append(
                Unit(e, _plain(relation, [col]),
                     _gx("ExpectColumnValuesToBeBetween", column=c, max_value=_timestamp(as_of),
                         mostly=_mostly(e), meta=meta),
                     f"{c} IS NOT NULL", f"{c} > ${p}", {p: as_of})
            )  # fmt: skip
        elif k in ("after_birth", "before_death"):
            out.append(_life_unit(e, relation, relation_columns, c, meta))
        elif k == "in_person":
            frame = _person_frame(relation, ["token_in_person"])
            out.append(
                Unit(e, frame,
                     _gx("ExpectColumnValuesToBeInSet", column="token_in_person", value_set=[True],
                         mostly=_mostly(e), meta=meta),
                     "token_in_person IS NOT NULL", "NOT token_in_person")
            )  # fmt: skip
        elif k == "group_rate":
            grp = ident(e.group_by or "")
            frame = Frame(
                key=f"group_rate:{relation}:{c}:{grp}:{e.min_group_rows}",
                sql=f"SELECT count({c}) / count(*) AS rate FROM {ident(relation)} "  # noqa: S608
                f"WHERE {grp} IS NOT NULL GROUP BY {grp} HAVING count(*) >= $min_rows",
                params={"min_rows": e.min_group_rows},
            )
            out.append(
                Unit(e, frame,
                     _gx("ExpectColumnValuesToBeBetween", column="rate", min_value=e.min_rate,
                         mostly=_mostly(e), meta=meta),
                     "rate IS NOT NULL", f"rate < ${p}", {p: e.min_rate})
            )  # fmt: skip
        elif k == "pair_order":
            later, earlier = (ident(x) for x in e.columns)
            out.append(_pair_unit(e, _plain(relation, [later, earlier]), later, earlier, meta))
        elif k == "unique":
            cols = [ident(x) for x in e.columns]
            keys = ", ".join(cols)
            any_given = " OR ".join(f"{x} IS NOT NULL" for x in cols)
            counts = (
                f"SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE n > 1), 0) FROM ("  # noqa: S608
                f"SELECT count(*) AS n FROM ({{frame}}) WHERE {any_given} GROUP BY {keys})"
            )
            unique = (
                _gx("ExpectColumnValuesToBeUnique", column=cols[0], mostly=_mostly(e), meta=meta)
                if len(cols) == 1
                else _gx("ExpectCompoundColumnsToBeUnique", column_list=cols, mostly=_mostly(e), meta=meta)
            )
            out.append(Unit(e, _plain(relation, cols), unique, "", "", counts=counts))
        elif k == "volume":
            frame = Frame(key=f"volume:{relation}", sql=f"SELECT ratio FROM {ident(relation)}")  # noqa: S608
            lo, hi = 1.0 - (e.tolerance or 0.0), 1.0 + (e.tolerance or 0.0)
            out.append(
                Unit(e, frame,
                     _gx("ExpectColumnValuesToBeBetween", column="ratio", min_value=lo, max_value=hi,
                         mostly=_mostly(e), meta=meta),
                     "ratio IS NOT NULL", f"(ratio < ${p}_lo OR ratio > ${p}_hi)", {f"{p}_lo": lo, f"{p}_hi": hi})
            )  # fmt: skip
        elif k == "ops_rate":
            # Rows already set aside by the connectors: a sum over per-file counts, not row-wise, so SQL only.
            # Over the rows not opted out (quality.inputs.reconciliation_view), never rows in.
            sql = f"SELECT rows_considered, {c} FROM {ident(relation)}"  # noqa: S608
            frame = Frame(key=f"ops:{relation}:{c}", sql=sql)
            counts = f"SELECT coalesce(sum(rows_considered), 0), coalesce(sum({c}), 0) FROM ({{frame}})"  # noqa: S608
            out.append(Unit(e, frame, None, "", "", counts=counts))
        else:  # pragma: no cover - Kind is a closed Literal
            raise ValueError(f"unknown kind {k}")
    return out


def _life_unit(e: Expectation, relation: str, columns: set[str], c: str, meta: dict[str, str]) -> Unit:
    """Activity month against the person's birth (not before) or death (not after) month."""
    month = f"month_{c}"
    if e.kind == "after_birth":
        if "birth_year_month" in columns:  # staged records carry it: no join needed
            sql = f"SELECT strftime({c}, '%Y-%m') AS {month}, birth_year_month FROM {ident(relation)}"  # noqa: S608
            return _pair_unit(e, Frame(key=f"birth:{relation}:{c}", sql=sql), month, "birth_year_month", meta)
        frame = _person_frame(relation, [month, "birth_year_month"])
        return _pair_unit(e, frame, month, "birth_year_month", meta)
    return _pair_unit(e, _person_frame(relation, [month, "death_month"]), "death_month", month, meta)


def _pair_unit(e: Expectation, frame: Frame, later: str, earlier: str, meta: dict[str, str]) -> Unit:
    return Unit(
        e,
        frame,
        _gx(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            column_A=later,
            column_B=earlier,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            mostly=_mostly(e),
            meta=meta,
        ),
        f"{later} IS NOT NULL AND {earlier} IS NOT NULL",
        f"{later} < {earlier}",
    )


def _timestamp(day: date) -> Any:
    import pandas as pd

    return pd.Timestamp(day)


#: The code lists shipped with the repository (what the warehouse build loads into ref_codelist).
SHIPPED_CODELISTS = Path(__file__).resolve().parents[1] / "codelists"


def shipped_codelists(folder: Path = SHIPPED_CODELISTS) -> list[tuple[str, str]]:
    """(codelist, code) pairs of the OpenCodelists-style CSVs in `folder`, read as the warehouse build
    reads them: codelist = file stem, `code` column (else the first), spaces trimmed."""
    import polars as pl

    pairs: set[tuple[str, str]] = set()
    for path in sorted(folder.glob("*.csv")):
        frame = pl.read_csv(path, infer_schema=False)
        lower = {c.lower(): c for c in frame.columns}
        codes = frame.get_column(lower.get("code", frame.columns[0])).str.strip_chars().drop_nulls()
        pairs |= {(path.stem, c) for c in codes.to_list()}
    return sorted(pairs)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table (or view) of that name is reachable through `con`."""
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $name", {"name": name}
    ).fetchall()
    return bool(rows and rows[0][0])


def codelist_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The (codelist, code) pairs codelist checks on `con` use, sorted: the `ref_codelist` table's, or
    without one (source checks on their own connection) the code lists shipped with the repository,
    the same lists the warehouse build loads."""
    if has_table(con, "ref_codelist"):
        rows = con.execute(
            "SELECT DISTINCT codelist, code FROM ref_codelist WHERE code IS NOT NULL"
        ).fetchall()
        return sorted((str(n), str(c)) for n, c in rows)
    return shipped_codelists()


def codelist_lookup(con: duckdb.DuckDBPyConnection) -> Callable[[tuple[str, ...]], list[str]]:
    """Codes of the lists of `codelist_rows(con)` whose names match any of the given globs (`*` = every
    list)."""
    rows = codelist_rows(con)

    def lookup(globs: tuple[str, ...]) -> list[str]:
        return sorted({code for name, code in rows if any(fnmatch.fnmatchcase(name, g) for g in globs)})

    return lookup
