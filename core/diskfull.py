""" "disk full while writing PATH": one clear refusal for a write the disk (or a file size limit) refused.

A full disk surfaces as many things: `OSError` ENOSPC from Python, EFBIG when a file size limit is hit,
EDQUOT over quota, and from DuckDB or polars as their own exception types whose message carries the C
library's text. `disk_full_guard(path)` turns each of them into `DiskFull` naming the file relative to
the installation's home (never a data value: the messages quoted are the operating system's). Any other
error passes through untouched.

`DiskFull` is a refusal (exit 1), not an internal error: nothing is wrong with the program or the
data; the operator frees space and runs again, and every writer here leaves the previous file in place.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import Refused

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
# What the C library says for those errors, as DuckDB, polars and pyarrow quote it.
_DISK_FULL_TEXT = ("no space left on device", "file too large", "disk quota exceeded")


class DiskFull(Refused):
    """A write failed because the disk is full (or a file size limit was reached); nothing was published."""


def home_relative(path: Path) -> str:
    """`path` relative to the installation home it lies in (the folder holding both `identifiable/`
    and `pseudonymised/`), else its last two parts: messages never carry the machine's full layout."""
    path = Path(path)
    for parent in path.parents:
        if (parent / "identifiable").is_dir() and (parent / "pseudonymised").is_dir():
            return str(path.relative_to(parent))
    return str(Path(*path.parts[-2:]))


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, is a write refused for lack of space."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(current).lower() for text in _DISK_FULL_TEXT):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def disk_full_guard(path: Path) -> Iterator[None]:
    """Raise `DiskFull("disk full while writing <home-relative path>")` for a disk-full error in the block."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull(f"disk full while writing {home_relative(path)}") from None
        raise
