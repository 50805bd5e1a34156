"""Publishing a DuckDB file atomically: build it privately, then swap it in with one `os.replace`.

A load's warehouse is built over several steps (the build with its quality results, then the cohort
step's tables) into one private *build file*, `<stem>.<build id>.building` beside the published file,
and published at the end by `publish_build`: one `os.replace`, so a reader opening the published path
sees the previous complete version or the new complete version, never a mix. A failure anywhere before
that leaves the published file exactly as it was.

Each build file has a lock, `<build file>.lock`, held (fcntl `flock`, exclusive) by the process that
builds it for as long as it lives or until it publishes or discards the build. So a build file whose
lock can be taken belongs to a dead (killed) process and `clean_stale_builds` removes it; one whose lock
is held belongs to a live run and is left alone. `flock` locks belong to an open file, so a second open
in the same process is refused too: a process never mistakes its own live build for a stale one.

`swap_in` is the one-step form (build, then publish at once) for callers outside a load, e.g. the
benchmark or a republish of a few tables. Writers that publish take turns on `<stem>.lock`, so a
publish that starts from a copy of the published file can never interleave with another and undo it.
Readers take no lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import duckdb

from core.diskfull import disk_full_guard
from core.errors import Refused
from core.faults import pause_point

BUILD_SUFFIX = ".building"
# Build files this process holds: build path -> its open, locked lock file.
_HELD: dict[Path, IO[str]] = {}


class BuildInUse(Refused):
    """The build file is held by another live process; nothing was changed."""


def build_path(published: Path, build_id: str) -> Path:
    """The private build file of one load (e.g. a Dagster run id) beside `published`."""
    if not build_id or not all(c.isalnum() or c in "-_" for c in build_id):
        raise ValueError("a build id holds letters, digits, '-' and '_' only")
    return published.with_name(f"{published.stem}.{build_id}{BUILD_SUFFIX}")


def _lock_path(build: Path) -> Path:
    return build.with_name(build.name + ".lock")


def _leftovers(build: Path) -> list[Path]:
    """The build file and what DuckDB keeps beside it (write-ahead log, spill folder)."""
    return [build, build.with_name(build.name + ".wal"), build.with_name(build.name + ".tmp")]


def _remove(build: Path) -> None:
    for p in _leftovers(build):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def claim(build: Path) -> None:
    """Hold `build`'s lock for this process (idempotent); BuildInUse when another process holds it."""
    if build in _HELD:
        return
    build.parent.mkdir(parents=True, exist_ok=True)
    lock = open(_lock_path(build), "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise BuildInUse(f"{build.name} is being built by another live run") from None
    _HELD[build] = lock


def _release(build: Path) -> None:
    lock = _HELD.pop(build, None)
    if lock is not None:
        _lock_path(build).unlink(missing_ok=True)  # removed while still held: no one can take it meanwhile
        lock.close()


def discard(build: Path) -> None:
    """Remove this process's build (file, WAL, spill folder, lock); the published file is untouched."""
    if build in _HELD:
        _remove(build)
        _release(build)


def clean_stale_builds(published: Path) -> list[str]:
    """Remove every build file beside `published` that no live process holds (a killed run's); returns
    their names. A build another live run holds, or this process's own, is left alone."""
    removed = []
    folder = published.parent
    # `<stem>.building` too: the single build file of earlier versions.
    patterns = [f"{published.stem}{BUILD_SUFFIX}", f"{published.stem}.*{BUILD_SUFFIX}"]
    candidates = {p for pattern in patterns for p in (*folder.glob(pattern), *folder.glob(pattern + ".lock"))}
    builds = {
        p.with_name(p.name.removesuffix(".lock")) if p.name.endswith(".lock") else p for p in candidates
    }
    for build in sorted(b for b in builds if b.name.endswith(BUILD_SUFFIX) and b not in _HELD):
        with open(_lock_path(build), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run is building it
            _remove(build)
            _lock_path(build).unlink(missing_ok=True)
        removed.append(build.name)
    return removed


@contextmanager
def write_build(
    build: Path, *, published: Path, fresh: bool, config: dict[str, Any] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to this process's build file, checkpointed and closed when the block ends.

    `fresh` starts an empty file; otherwise the build continues where an earlier step of the same load
    left it, or (when this load has no build yet) from a copy of the published file. On an exception
    the build is discarded; the published file is never touched here.
    """
    claim(build)
    with disk_full_guard(build):
        if fresh:
            _remove(build)
        elif not build.exists() and published.is_file():
            shutil.copyfile(published, build)
        con = duckdb.connect(str(build), config=config or {})
    try:
        con.execute("SET python_enable_replacements = false")
        with disk_full_guard(build):
            yield con
            con.execute("CHECKPOINT")
        con.close()
    except BaseException:
        con.close()
        discard(build)
        raise


@contextmanager
def _writer_turn(published: Path) -> Iterator[None]:
    published.parent.mkdir(parents=True, exist_ok=True)
    with open(published.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also on a crash
        yield


def publish_build(build: Path, published: Path) -> None:
    """Swap this process's finished build in over `published` with one `os.replace` (durably)."""
    if not build.is_file():
        raise FileNotFoundError(f"no build {build.name} to publish")
    claim(build)  # already held by the process that built it; taken over if that process has ended
    with _writer_turn(published):
        _publish(build, published)


def _publish(build: Path, published: Path) -> None:
    with disk_full_guard(build):
        fd = os.open(build, os.O_RDONLY)
        try:
            os.fsync(fd)  # the new file's bytes are on disk before its name is
        finally:
            os.close(fd)
    pause_point("before_replace")
    os.replace(build, published)
    dir_fd = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    pause_point("after_replace")
    _remove(build)  # the WAL and spill folder, if DuckDB left any
    _release(build)


@contextmanager
def swap_in(
    path: Path, *, from_published: bool = False, config: dict[str, Any] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a fresh build (empty, or a copy of `path` with `from_published`), swapped in
    over `path` when the block ends without an exception and removed when it raises."""
    build = build_path(path, f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
    with _writer_turn(path):
        clean_stale_builds(path)
        try:
            with write_build(build, published=path, fresh=not from_published, config=config) as con:
                yield con
            _publish(build, path)
        finally:
            discard(build)
