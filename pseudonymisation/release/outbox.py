"""The outbox: where sealed lists are written, safely against a caller who prepared the path.

``HOME/outbox/<purpose>/<practice>/<purpose>_<practice>_<stamp>_<random>.csv.hpke``. Three rules, each
against an attack tried on the earlier outbox:

* **no symlink anywhere on the path**: every folder from the home down is checked with ``lstat`` and
  opened with ``O_NOFOLLOW``, so a list cannot be redirected into a folder the caller chose;
* **permissions of a folder we did not create are never changed**: a folder we make is 0700; an
  existing one must already be 0700 and ours, or the write is refused (no chmod of someone's folder);
* **collision-free names**: a random suffix after the second-resolution stamp, and the file is created
  exclusively (``write_private``), so two releases in one second never meet.
"""

from __future__ import annotations

import os
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

from core.files import write_private
from core.layout import Home

from .members import Denied

__all__ = ["outbox_file", "write_outbox"]


def _safe_folder(path: Path) -> None:
    """``path`` is a real folder (not a symlink), owned by us and 0700; create it 0700 if missing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        try:
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)  # ours, just created: mkdir's mode is masked by umask
        except OSError:  # e.g. no permission, or a name that appeared meanwhile: never write there
            raise Denied("outbox_unsafe", f"{path.name} on the outbox path cannot be created") from None
        return
    if stat.S_ISLNK(info.st_mode):
        raise Denied("outbox_unsafe", f"{path.name} on the outbox path is a symlink")
    if not stat.S_ISDIR(info.st_mode):
        raise Denied("outbox_unsafe", f"{path.name} on the outbox path is not a folder")
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) != 0o700:
        raise Denied("outbox_unsafe", f"{path.name} is not a private (0700) folder of this account")


def outbox_file(home: Home, purpose: str, practice: str, now: datetime) -> Path:
    """A new, unused path for a sealed list, with every folder on its way checked (``Denied`` if unsafe)."""
    root = home.root
    for ancestor in (root, *root.parents):
        if ancestor.is_symlink():
            raise Denied("outbox_unsafe", f"{ancestor} on the outbox path is a symlink")
    folder = home.outbox
    for part in (folder, folder / purpose, folder / purpose / practice):
        _safe_folder(part)
    # Re-open the final folder without following links: a swap after the checks above is caught here.
    try:
        fd = os.open(folder / purpose / practice, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        raise Denied("outbox_unsafe", f"{practice} on the outbox path changed while it was checked") from None
    os.close(fd)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return folder / purpose / practice / f"{purpose}_{practice}_{stamp}_{secrets.token_hex(4)}.csv.hpke"


def write_outbox(path: Path, data: bytes) -> None:
    """Create the sealed file (0600, never overwriting); ``Denied('output_exists')`` if the name is taken."""
    try:
        write_private(path, data)
    except FileExistsError:
        raise Denied("output_exists") from None
