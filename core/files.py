"""Private files: keys, the rotation journal and released lists are written 0600 in 0700 folders.

One way to write them, so every caller gets the same guarantees: the bytes go to a fresh temp file
created 0600 (never wider, whatever the umask), are fsynced, and only then take the target name -
by hard link for a new file (an existing one is never overwritten: FileExistsError) or by rename to
replace one. A crash leaves the old file or the new one, never part of one.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

__all__ = ["private_dir", "write_private"]


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make ``path`` itself 0700 (mkdir's mode is masked by umask,
    and an older folder may be wider)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, never partially.

    Without ``replace`` the file must be new: FileExistsError if the name is taken (a released list or
    a key is never overwritten). With ``replace`` an existing file is swapped atomically.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
