"""Declarative cohorts: load validated definitions (`cohort.schema`) and compile them to bound DuckDB SQL.

`compile` turns a definition into one SELECT returning `person_token` and `reason` (the matched include
criteria, '; '-separated). Every value, labels included, is a bound parameter; identifiers come only from
the allow-lists passed in (features, `SettingTable`s) and are checked and quoted. A null feature or a
missing activity row never matches a criterion, so a null never lets anyone into a cohort or past an
exclusion.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cohort.schema import (
    SETTINGS,
    CodesCriterion,
    CohortDefinition,
    CohortDefinitionError,
    EventsCriterion,
    FeatureCriterion,
    Population,
    load_cohorts,
    parse_definition,
    unknown_message,
)

__all__ = [
    "SETTINGS",
    "CodesCriterion",
    "CohortDefinition",
    "CohortDefinitionError",
    "EventFilter",
    "EventsCriterion",
    "FeatureCriterion",
    "Population",
    "SettingTable",
    "compile",
    "load_cohorts",
    "parse_definition",
]


@dataclass(frozen=True)
class EventFilter:
    """A named subset of a setting's rows: `column` takes one of `values` (bound, never formatted in)."""

    column: str
    values: tuple[str | int | bool, ...]


@dataclass(frozen=True)
class SettingTable:
    """Where a setting's activity lives: one row per event, keyed by `person_column`, dated by `date_column`.

    `code_columns` are matched against the codelist table (any column may match); a setting without them
    cannot be used by `codes` criteria. `filters` are the event subsets `events` criteria may name.
    """

    table: str
    date_column: str
    code_columns: tuple[str, ...] = ()
    person_column: str = "person_token"
    filters: Mapping[str, EventFilter] = field(default_factory=dict)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _quote(name: str) -> str:
    """Quote a (possibly schema-qualified) identifier that came from an allow-list; refuse anything odd."""
    parts = name.split(".")
    if not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return ".".join(f'"{p}"' for p in parts)


class _Sql:
    """Collects bound values; `bind` returns the `$n` placeholder for a value."""

    def __init__(self, as_of: date | None) -> None:
        self.params: list[Any] = []
        self._as_of = as_of
        self._as_of_sql: str | None = None

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def as_of(self) -> str:
        if self._as_of is None:
            return "current_date"
        if self._as_of_sql is None:
            self._as_of_sql = f"CAST({self.bind(self._as_of)} AS DATE)"
        return self._as_of_sql


def _problems(
    definition: CohortDefinition,
    allowed_features: Collection[str],
    allowed_codelists: Collection[str],
    setting_tables: Mapping[str, SettingTable],
) -> list[str]:
    problems = []
    population = definition.population
    needs = [("age", population.min_age is not None or population.max_age is not None)]
    needs += [("registered", population.registered is not None), ("alive", population.alive is not None)]
    problems += [
        f"population: {unknown_message('feature', name, allowed_features)}"
        for name, used in needs
        if used and name not in allowed_features
    ]
    for part in ("include", "exclude"):
        for i, c in enumerate(getattr(definition, part)):
            where = f"{part}[{i}]"
            if isinstance(c, FeatureCriterion) and c.feature not in allowed_features:
                problems.append(f"{where}.feature: {unknown_message('feature', c.feature, allowed_features)}")
            if isinstance(c, CodesCriterion) and c.codes not in allowed_codelists:
                problems.append(f"{where}.codes: {unknown_message('codelist', c.codes, allowed_codelists)}")
            setting = (
                c.setting
                if isinstance(c, CodesCriterion)
                else c.events
                if isinstance(c, EventsCriterion)
                else None
            )
            table = setting_tables.get(setting) if setting else None
            if setting and table is None:
                problems.append(f"{where}: no table configured for setting {setting!r}")
            elif isinstance(c, CodesCriterion) and table is not None and not table.code_columns:
                problems.append(f"{where}: setting {setting!r} has no code columns")
            elif (
                isinstance(c, EventsCriterion)
                and table is not None
                and c.filter
                and c.filter not in table.filters
            ):
                problems.append(
                    f"{where}.filter: {unknown_message(f'filter for {setting}', c.filter, table.filters)}"
                )
    return problems


def _window_text(months: int | None) -> str:
    return f" within {months} months" if months else ""


def _activity_count(
    sql: _Sql, c: CodesCriterion | EventsCriterion, table: SettingTable, codelist_table: str
) -> str:
    """Correlated count of the person's matching rows in the setting's table."""
    date_col = f"a.{_quote(table.date_column)}"
    conds = [f'a.{_quote(table.person_column)} = f."person_token"', f"{date_col} <= {sql.as_of()}"]
    if c.within_months:
        conds.append(f"{date_col} >= {sql.as_of()} - to_months({sql.bind(c.within_months)})")
    if isinstance(c, CodesCriterion):
        name = sql.bind(c.codes)
        members = f'(SELECT c."code" FROM {_quote(codelist_table)} AS c WHERE c."codelist" = {name})'  # noqa: S608 (quoted allow-listed identifiers; values bound)
        conds.append("(" + " OR ".join(f"a.{_quote(col)} IN {members}" for col in table.code_columns) + ")")
    elif c.filter:
        subset = table.filters[c.filter]
        conds.append(f"list_contains({sql.bind(list(subset.values))}, a.{_quote(subset.column)})")
    return f"(SELECT count(*) FROM {_quote(table.table)} AS a WHERE {' AND '.join(conds)})"  # noqa: S608 (quoted allow-listed identifiers; values bound)


def _criterion(
    sql: _Sql,
    c: FeatureCriterion | CodesCriterion | EventsCriterion,
    setting_tables: Mapping[str, SettingTable],
    codelist_table: str,
    *,
    with_reason: bool = True,
) -> tuple[str, str]:
    """(predicate, reason expression) for one criterion; the reason is "" when not wanted (exclusions)."""
    if isinstance(c, FeatureCriterion):
        column = f"f.{_quote(c.feature)}"
        if c.op == "in":
            predicate = f"list_contains({sql.bind(c.value)}, {column})"
        else:
            predicate = f"{column} {c.op} {sql.bind(c.value)}"
        if not with_reason:
            return predicate, ""
        # The reason names the rule, never the person's own value (it travels with released lists,
        # whose fields the governance register approves one by one).
        value = ", ".join(map(str, c.value)) if isinstance(c.value, list | tuple) else str(c.value)
        rule = f"{c.feature} in ({value})" if c.op == "in" else f"{c.feature} {c.op} {value}"
        return predicate, sql.bind(c.label or rule)
    setting = c.setting if isinstance(c, CodesCriterion) else c.events
    count = _activity_count(sql, c, setting_tables[setting], codelist_table)
    predicate = f"{count} {'>=' if c.present else '<'} {sql.bind(c.min_count)}"
    if not with_reason:
        return predicate, ""
    if c.label:
        return predicate, sql.bind(c.label)
    if isinstance(c, CodesCriterion):
        what = f"{c.codes} {'recorded' if c.present else 'not recorded'} in {setting}"
    else:
        subset = f" {c.filter}" if c.filter else ""
        what = (
            f"{c.min_count}+ {setting}{subset} events"
            if c.present
            else f"fewer than {c.min_count} {setting}{subset} events"
        )
    return predicate, sql.bind(what + _window_text(c.within_months))


def compile(
    definition: CohortDefinition,
    *,
    features_table: str,
    allowed_features: Collection[str],
    allowed_codelists: Collection[str],
    setting_tables: Mapping[str, SettingTable],
    as_of: date | None = None,
    codelist_table: str = "ref_codelist",
) -> tuple[str, list[Any]]:
    """DuckDB SQL (and its parameters, in `$n` order) selecting `person_token, reason` for the cohort.

    Windows run from `as_of - within_months` to `as_of` inclusive (`current_date` when as_of is None);
    activity after `as_of` is never counted. `codelist_table` has columns `codelist, code`. Raises
    CohortDefinitionError (naming the cohort id) for features, codelists or settings not allowed here.
    """
    problems = _problems(definition, allowed_features, allowed_codelists, setting_tables)
    if problems:
        raise CohortDefinitionError(definition.id, problems)
    sql = _Sql(as_of)
    where: list[str] = []
    population = definition.population
    if population.min_age is not None:
        where.append(f'f."age" >= {sql.bind(population.min_age)}')
    if population.max_age is not None:
        where.append(f'f."age" <= {sql.bind(population.max_age)}')
    for flag in ("registered", "alive"):
        wanted = getattr(population, flag)
        if wanted is not None:
            where.append(f'f."{flag}" = {sql.bind(wanted)}')
    reasons = []
    for c in definition.include:
        predicate, reason = _criterion(sql, c, setting_tables, codelist_table)
        where.append(f"coalesce({predicate}, false)")
        reasons.append(reason)
    for c in definition.exclude:
        predicate = _criterion(sql, c, setting_tables, codelist_table, with_reason=False)[0]
        where.append(f"NOT coalesce({predicate}, false)")
    conditions = "\n  AND ".join(where)
    # Only quoted allow-listed identifiers and `$n` placeholders are formatted in; values are bound.
    query = (
        f"SELECT f.\"person_token\" AS person_token, concat_ws('; ', {', '.join(reasons)}) AS reason\n"
        f"FROM {_quote(features_table)} AS f\n"
        f"WHERE {conditions}\n"
        'ORDER BY f."person_token"'
    )
    return query, sql.params
