"""Publishing a DuckDB file atomically: build beside it, then swap it in.

Both the warehouse build (a fresh file every load) and the cohort step (new tables added to the
published file) write into `<name>.building`, then checkpoint, close and `os.replace` it over the
published path. Readers that already hold the old file keep reading it, new readers get the new one,
and a failure anywhere leaves the published file untouched and no `.building` file behind.

Writers take turns: an exclusive lock on `<name>.lock` is held for the whole block, so a cohort publish
(which starts from a copy of the published file) can never interleave with a build and undo it.
Readers take no lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb


@contextmanager
def swap_in(
    path: Path, *, from_published: bool = False, config: dict[str, Any] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to `<path>.building` (empty, or a copy of `path` with `from_published`), swapped
    in over `path` when the block ends without an exception and removed when it raises."""
    building = path.with_suffix(".building")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also on a crash
        _remove(building)
        if from_published:
            shutil.copyfile(path, building)
        con = duckdb.connect(str(building), config=config or {})
        try:
            con.execute("SET python_enable_replacements = false")
            yield con
            con.execute("CHECKPOINT")
            con.close()
            os.replace(building, path)
        except BaseException:
            con.close()
            _remove(building)
            raise


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
