"""Dagster's SQLite run history syncs at WAL checkpoints, not on every event (pipelines/run_storage.py)."""

from __future__ import annotations

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
