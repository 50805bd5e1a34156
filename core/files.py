"""Files written whole or not at all: private files (keys, the rotation journal, released lists) and
public ones (staged parquet, history, reports).

One way to write each, so every caller gets the same guarantees: the bytes go to a fresh temp file
beside the target (same folder, so the final rename never crosses a file system), are fsynced, and only
then take the target name. A crash leaves the old file or the new one, never part of one, and a failed
write leaves no temp file behind.

* `write_private`: mode 0600 from the first byte (never wider, whatever the umask); a new file by hard
  link (an existing one is never overwritten: FileExistsError) or, with ``replace``, by rename.
* `write_public`: replaces the target by rename; the mode is the umask's unless one is asked for. The
  data is bytes or a function that writes the temp file by path (``frame.write_parquet``), so polars
  writes natively and still gets the fsync and the rename.

**Privacy is inherited** (`write_public`, `make_parents`): a file written into a folder that only its
owner can enter (0700, e.g. anything under ``HOME/identifiable/`` or a landing folder) is made 0600, and
missing folders created below such a folder are made 0700, whatever the umask. So the identifiable zone
stays private without every writer having to remember it (issue #14: quarantine, trace results, GP
master and opt-out files were 0644 under the default umask).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["is_private_dir", "make_parents", "private_dir", "write_private", "write_public"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make ``path`` itself 0700 (mkdir's mode is masked by umask,
    and an older folder may be wider)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def is_private_dir(path: Path) -> bool:
    """True if ``path`` is a folder that group and others cannot enter (no bits in 0o077)."""
    try:
        return stat.S_ISDIR(path.stat().st_mode) and not stat.S_IMODE(path.stat().st_mode) & 0o077
    except FileNotFoundError:
        return False


def make_parents(path: Path) -> Path:
    """Create the folders above ``path`` if missing; those below a private folder are made 0700.

    The nearest existing ancestor decides: below a 0700 folder every new folder is ``private_dir``'d
    (mkdir's mode is masked by the umask), elsewhere folders get the umask's mode as usual.
    """
    parent = path.parent
    missing: list[Path] = []
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    private = is_private_dir(parent)
    for folder in reversed(missing):
        if private:
            private_dir(folder)
        else:
            folder.mkdir(exist_ok=True)
    return path.parent


def _temp_beside(path: Path, mode: int | None) -> tuple[Path, int]:
    """A new, empty temp file next to ``path`` (created exclusively: never someone else's file or a
    link), open for writing; with ``mode`` it has exactly that mode before any byte is written."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666 if mode is None else mode)
    if mode is not None:
        os.fchmod(fd, mode)
    return tmp, fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, never partially.

    Without ``replace`` the file must be new: FileExistsError if the name is taken (a released list or
    a key is never overwritten). With ``replace`` an existing file is swapped atomically.
    """
    tmp, fd = _temp_beside(path, 0o600)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_public(path: Path, data: bytes | Callable[[Path], object], *, mode: int | None = None) -> Path:
    """Write ``path`` atomically and durably, replacing any file of that name; return ``path``.

    ``data`` is the bytes, or a function given the temp file's path to write it (its return value is
    ignored). The folder is created if missing (default permissions: private folders come from
    `private_dir`). ``mode`` (e.g. 0o600 for a file under the identifiable zone) is set on the temp file
    before anything is written; without it a file in a private (0700) folder is 0600 and elsewhere the
    umask decides, as for any new file.
    """
    folder = make_parents(path)
    if mode is None and is_private_dir(folder):
        mode = 0o600
    tmp, fd = _temp_beside(path, mode)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
            # Sync what stands at the temp name now, whether the writer truncated the file made above
            # or put a new one in its place, and keep the asked-for mode either way.
            if mode is not None:
                os.chmod(tmp, mode)
            fd = os.open(tmp, os.O_RDONLY | _NOFOLLOW)
        try:
            if not callable(data):
                _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
