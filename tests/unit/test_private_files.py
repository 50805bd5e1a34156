"""Private files: 0600 files in 0700 folders, new files never overwritten, replacements atomic."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.files import private_dir, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_is_0600_in_a_0700_folder_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "b")
        write_private(folder / "key", b"secret\n")
    finally:
        os.umask(old)
    assert (mode(folder), mode(folder / "key")) == (0o700, 0o600)
    assert (folder / "key").read_bytes() == b"secret\n"
    assert [p.name for p in folder.iterdir()] == ["key"]  # no temp file left behind


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    write_private(tmp_path / "list.csv", b"first")
    with pytest.raises(FileExistsError):
        write_private(tmp_path / "list.csv", b"second")
    assert (tmp_path / "list.csv").read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["list.csv"]


def test_replace_swaps_the_file_and_keeps_it_private(tmp_path: Path) -> None:
    target = tmp_path / "journal.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, b"new", replace=True)
    assert (target.read_bytes(), mode(target)) == (b"new", 0o600)


def test_a_wider_existing_folder_is_narrowed(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert mode(private_dir(folder)) == 0o700
