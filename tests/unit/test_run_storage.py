"""Dagster's SQLite run history syncs at WAL checkpoints, not on every event (pipelines/run_storage.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

import pipelines  # noqa: F401  (importing the package installs the listener, as every Dagster process does)
from pipelines import run_storage


def _synchronous(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("PRAGMA synchronous")).scalar_one())
    finally:
        engine.dispose()


def test_every_new_sqlite_connection_is_set_to_normal(tmp_path: Path) -> None:
    # 1 is NORMAL (SQLite's default, FULL, is 2): what SQLite documents as safe for WAL databases.
    assert _synchronous(f"sqlite:///{tmp_path / 'runs.db'}") == 1
    run_storage.install()  # a second install does not register the listener twice
    assert _synchronous(f"sqlite:///{tmp_path / 'index.db'}") == 1


def _write_event(url: str) -> None:
    """One event as Dagster's SQLite storage writes it: a fresh engine and connection, one commit."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.text("INSERT INTO event (body) VALUES ('x')"))
    finally:
        engine.dispose()


def _wal_db(path: Path) -> str:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE event (body TEXT)")
    con.close()  # the last connection: SQLite checkpoints and removes the WAL
    assert not Path(f"{path}-wal").exists()
    return f"sqlite:///{path}"


def test_closing_an_event_connection_does_not_checkpoint_the_wal(tmp_path: Path) -> None:
    url = _wal_db(tmp_path / "run.db")
    for _ in range(3):
        _write_event(url)
    # An idle connection stays open, so the event's connection was not the last one to close: the WAL
    # (three events, not yet checkpointed) is still there, and every event is readable.
    assert str(tmp_path / "run.db") in run_storage.kept_files()
    assert Path(f"{tmp_path / 'run.db'}-wal").stat().st_size > 0
    reader = sqlite3.connect(tmp_path / "run.db")
    assert reader.execute("SELECT count(*) FROM event").fetchone() == (3,)
    reader.close()


def test_only_the_last_files_written_are_kept_open(tmp_path: Path) -> None:
    paths = [tmp_path / f"shard{i}.db" for i in range(run_storage.KEPT + 2)]
    for path in paths:
        _write_event(_wal_db(path))
    kept = run_storage.kept_files()
    assert kept[-run_storage.KEPT :] == [str(p) for p in paths[2:]]
    assert str(paths[0]) not in kept and str(paths[1]) not in kept
    # Closing the idle connection to the oldest checkpointed its WAL into the database.
    assert not Path(f"{paths[0]}-wal").exists()
    reader = sqlite3.connect(paths[0])
    assert reader.execute("SELECT count(*) FROM event").fetchone() == (1,)
    reader.close()


def test_a_rollback_journal_database_is_not_held_open(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE event (body TEXT)")
    con.close()
    _write_event(f"sqlite:///{path}")
    assert str(path) not in run_storage.kept_files()
