"""How assets present themselves in the Dagster catalogue: owner, zone tag, column schema, Markdown.

Every asset is owned by the ICS data engineering team and tagged with the zone its output lives in
(`zone=identifiable | pseudonymised | release`, as in docs/security.md), so the UI can filter by zone
and nobody mistakes an identifiable asset for an analyst table.
"""

from collections.abc import Mapping
from typing import Any, Literal

import dagster as dg
import polars as pl

from core import tables

OWNERS = ["team:ics-data-engineering"]
Zone = Literal["identifiable", "pseudonymised", "release"]


def owned(zone: Zone) -> dict[str, Any]:
    """`owners` and `tags` keyword arguments for an asset whose output lives in `zone`."""
    return {"owners": OWNERS, "tags": {"zone": zone}}


def column_schema(columns: Mapping[str, str]) -> dict[str, dg.TableSchema]:
    """`dagster/column_schema` metadata for a table of `column -> DuckDB type`."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, dtype) for name, dtype in columns.items()])
    return {"dagster/column_schema": schema}


def markdown_table(frame: pl.DataFrame, digits: int = 3) -> dg.MetadataValue:
    """A small frame of counts or metrics (never row values) as Markdown metadata."""
    rounded = frame.with_columns(pl.col(pl.Float64).round(digits))
    return dg.MetadataValue.md(tables.markdown_table(rounded.columns, rounded.rows()) + "\n")
