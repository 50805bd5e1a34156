"""Dagster's run history on SQLite: commits synced at WAL checkpoints, not on every event.

A local Dagster home keeps runs and events in SQLite files in WAL mode, and Dagster writes one
transaction per event (a small `phm run` writes ~1,400: step starts, outputs, materialisations, check
evaluations, each also into the asset index), each on a connection of its own (`NullPool`: opened,
committed, closed). Two SQLite defaults made that event log, not the work, the largest part of a small
load:

* `synchronous=FULL`: every commit waits for an fsync. `synchronous=NORMAL` is what SQLite documents
  for WAL mode: the database cannot be corrupted, and a power cut can lose at most the events written
  since the last checkpoint — run history, which the next run rewrites; the warehouse is DuckDB and
  keeps its own durability.
* the last connection to close checkpoints the WAL into the database and fsyncs it, so with one
  short-lived connection per event every event paid a checkpoint (~20 ms of fsync here, measured:
  500 open-write-close cycles 10.4 s, 0.2 s with another connection open). So the process keeps one
  idle connection open to each of the few files it last wrote (`KEPT`): the per-event connections are
  then never the last, and the WAL is checkpointed as SQLite does for a long-lived connection (every
  1,000 pages, and when the process closes it). An idle connection holds no lock.

Set through SQLAlchemy's public `connect` event, for SQLite connections only, in every process that
imports `pipelines` (`phm run`, the code location Dagster's UI loads, and the run workers it launches).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Files kept open (each costs three file descriptors: database, WAL, index): a run writes two, its own
# event shard and the asset index, beside the runs database; older ones are closed first.
KEPT = 8
_kept: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_lock = threading.Lock()


def _sync_at_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        _keep_open(dbapi_connection)


def _keep_open(con: sqlite3.Connection) -> None:
    """Hold an idle connection to ``con``'s file (WAL files only: a checkpoint is what it saves)."""
    if con.execute("PRAGMA journal_mode").fetchone() != ("wal",):
        return
    path = next((row[2] for row in con.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not path:  # in memory
        return
    with _lock:
        if path in _kept:
            _kept.move_to_end(path)
            return
        keeper = sqlite3.connect(path, check_same_thread=False)
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the WAL, then idles
        _kept[path] = keeper
        while len(_kept) > KEPT:
            _kept.popitem(last=False)[1].close()


def kept_files() -> list[str]:
    """The files this process holds an idle connection to, oldest first."""
    with _lock:
        return list(_kept)


def install() -> None:
    """Register the listener once per process (SQLAlchemy ignores a second identical registration)."""
    if not event.contains(Engine, "connect", _sync_at_checkpoints):
        event.listen(Engine, "connect", _sync_at_checkpoints)
