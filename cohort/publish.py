"""Publish the cohort step's tables into the analyst warehouse, atomically (pseudonymised zone).

The warehouse build (`linkage.warehouse`) rebuilds the file from scratch on every load; the cohort step
then adds its own tables (features, risk scores, cohort membership, disclosure-controlled aggregates)
with `publish_tables`: the tables are (re)created in a copy of the published file, which is swapped
in over it (`core.publish.swap_in`). A reader never sees half a publish; a failed publish
leaves the published file untouched. Inside a load, `publish_tables(..., build=...)` writes them into
the load's private build file instead, which the load's final step publishes with the rest.

Tokens only: a table with a column that names an identifier (`linkage.warehouse.schema`) is refused
before anything is written. `cohort_tables` shapes the frames the Dagster asset publishes to the fixed
schemas below, which docs/warehouse.md documents ("Tables added by the cohort step").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl

from cohort.features import FEATURE_COLUMNS
from core.errors import Refused
from core.faults import pause_point
from core.publish import swap_in, write_build
from linkage.warehouse.schema import FORBIDDEN_COLUMNS, FORBIDDEN_SUBSTRINGS

__all__ = [
    "AGGREGATE_COLUMNS",
    "COHORT_MEMBER_COLUMNS",
    "PublishError",
    "RISK_SCORE_COLUMNS",
    "aggregate_table_name",
    "cohort_tables",
    "publish_tables",
]

# --- published schemas (column -> DuckDB type) ---------------------------------------------------------
RISK_SCORE_COLUMNS: Final[dict[str, str]] = {
    "person_token": "VARCHAR",
    "risk_score": "DOUBLE",
    "risk_rank": "BIGINT",
    "risk_tier": "VARCHAR",
    "segment": "VARCHAR",
}
COHORT_MEMBER_COLUMNS: Final[dict[str, str]] = {
    "cohort_id": "VARCHAR",
    "person_token": "VARCHAR",
    "reason": "VARCHAR",
    "built_at": "TIMESTAMP",
}
#: `agg_people_by_<dimension>`: the dimension column (VARCHAR) first, then these (core.disclosure).
AGGREGATE_COLUMNS: Final[dict[str, str]] = {
    "n": "BIGINT",
    "suppression": "VARCHAR",
    "total": "BOOLEAN",
    "n_display": "VARCHAR",
}

_POLARS: Final[dict[str, pl.DataType]] = {
    "VARCHAR": pl.String(),
    "DOUBLE": pl.Float64(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMP": pl.Datetime("us"),
}
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SOURCE_VIEW = "_phm_publish_source"


class PublishError(Refused, ValueError):
    """A table was refused (bad name, identifying column); nothing was published."""


def aggregate_table_name(dimension: str) -> str:
    return f"agg_people_by_{dimension}"


def _shape(frame: pl.DataFrame, schema: Mapping[str, str], table: str) -> pl.DataFrame:
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise PublishError(f"{table}: missing columns {missing}")
    return frame.select(pl.col(c).cast(_POLARS[t]) for c, t in schema.items())


def cohort_tables(
    *,
    features: pl.DataFrame,
    scores: pl.DataFrame,
    cohorts: Mapping[str, pl.DataFrame],
    aggregates: Mapping[str, pl.DataFrame],
    built_at: datetime,
) -> dict[str, pl.DataFrame]:
    """The cohort step's warehouse tables, shaped to their published schemas.

    `features`: the scored features table (`cohort.features.FEATURE_COLUMNS`); `scores`: person_token,
    risk_score, risk_rank, risk_tier (segment taken from `features`); `cohorts`: cohort id -> frame of
    person_token, reason; `aggregates`: dimension -> disclosure-controlled count table
    (`core.disclosure.protect_table`). `built_at` (naive UTC, or aware and converted) stamps every
    cohort_member row.
    """
    stamp = built_at.astimezone(UTC).replace(tzinfo=None) if built_at.tzinfo else built_at
    segment = features.select("person_token", "segment").unique("person_token", keep="first")
    risk = scores.drop("segment", strict=False).join(segment, on="person_token", how="left")
    members = [
        frame.select("person_token", "reason").with_columns(
            pl.lit(cohort_id, pl.String).alias("cohort_id"),
            pl.lit(stamp, pl.Datetime("us")).alias("built_at"),
        )
        for cohort_id, frame in sorted(cohorts.items())
    ]
    member_frame = (
        pl.concat(members, how="vertical_relaxed")
        if members
        else pl.DataFrame(schema={c: _POLARS[t] for c, t in COHORT_MEMBER_COLUMNS.items()})
    )
    tables = {
        "features": _shape(features, FEATURE_COLUMNS, "features"),
        "risk_score": _shape(risk, RISK_SCORE_COLUMNS, "risk_score"),
        "cohort_member": _shape(member_frame, COHORT_MEMBER_COLUMNS, "cohort_member"),
    }
    for dimension, frame in sorted(aggregates.items()):
        name = aggregate_table_name(dimension)
        tables[name] = _shape(frame, {dimension: "VARCHAR", **AGGREGATE_COLUMNS}, name)
    return tables


def _check(name: str, frame: pl.DataFrame) -> None:
    if not _TABLE_NAME.fullmatch(name):
        raise PublishError(f"refused table name {name!r}: expected lower-case letters, digits and '_'")
    leaked = sorted(
        c
        for c in frame.columns
        if c.lower() in FORBIDDEN_COLUMNS or any(s in c.lower() for s in FORBIDDEN_SUBSTRINGS)
    )
    if leaked:
        raise PublishError(f"{name}: refused identifying columns {leaked}")
    bad = [c for c in frame.columns if not _TABLE_NAME.fullmatch(c)]
    if bad:
        raise PublishError(f"{name}: refused column names {bad}")


def publish_tables(warehouse: Path, tables: dict[str, pl.DataFrame], *, build: Path | None = None) -> None:
    """(Re)create `tables` in the published warehouse at `warehouse`, swapping the file in atomically;
    with `build`, in that private build file of the load instead (started from a copy of the published
    file if the load has none yet), which the load publishes later.

    Every table is checked (name, no identifying column) before anything is written; a table of the
    same name is replaced. Raises FileNotFoundError when there is neither a build nor a published
    warehouse, and PublishError for a refused table.
    """
    for name, frame in tables.items():
        _check(name, frame)
    if not warehouse.is_file() and (build is None or not build.is_file()):
        raise FileNotFoundError(f"no published warehouse at {warehouse}")
    writer = (
        swap_in(warehouse, from_published=True)
        if build is None
        else write_build(build, published=warehouse, fresh=False)
    )
    with writer as con:
        for name, frame in tables.items():
            con.register(_SOURCE_VIEW, frame)
            try:
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {_SOURCE_VIEW}")  # noqa: S608
            finally:
                con.unregister(_SOURCE_VIEW)
        pause_point("cohort_written")
