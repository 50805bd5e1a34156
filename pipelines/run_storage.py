"""Dagster's run history on SQLite: commits synced at WAL checkpoints rather than on every event.

A local Dagster home keeps runs and events in SQLite files in WAL mode, and Dagster writes one
transaction per event (a small `phm run` writes ~1,400: step starts, outputs, materialisations, check
evaluations, each also into the asset index). With SQLite's default `synchronous=FULL` every one of
them waits for an fsync (5-18 ms each here), which made the event log, not the work, the largest part
of a small load. `synchronous=NORMAL` is what SQLite documents for WAL mode: the database cannot be
corrupted, and a power cut can lose at most the last events written since the last checkpoint — run
history, which the next run rewrites; the warehouse is DuckDB and keeps its own durability.

Set through SQLAlchemy's public `connect` event, for SQLite connections only, in every process that
imports `pipelines` (`phm run`, the code location Dagster's UI loads, and the run workers it launches).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _sync_at_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def install() -> None:
    """Register the listener once per process (SQLAlchemy ignores a second identical registration)."""
    if not event.contains(Engine, "connect", _sync_at_checkpoints):
        event.listen(Engine, "connect", _sync_at_checkpoints)
