"""core.files.write_public: whole files or none, fsynced before they take the name, the asked-for mode
from the first byte, and no temp file left behind when a write fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest

from core.files import write_public


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bytes_replace_the_file_and_the_folder_is_made(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "dq_R1.html"
    assert write_public(target, b"<p>first</p>") == target
    assert write_public(target, b"<p>second</p>") == target
    assert target.read_bytes() == b"<p>second</p>"
    assert [p.name for p in target.parent.iterdir()] == ["dq_R1.html"]


def test_without_a_mode_the_umask_decides(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # pytest's tmp folders are 0700, where every file is made 0600 (core.files)
    old = os.umask(0o027)
    try:
        write_public(tmp_path / "a.txt", b"x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.txt") == 0o640


def test_a_mode_holds_from_the_first_byte_whatever_the_umask(tmp_path: Path) -> None:
    seen: list[int] = []

    def write(tmp: Path) -> None:
        seen.append(mode(tmp))  # before any byte is written
        tmp.write_bytes(b"record_key,decision\n")

    old = os.umask(0)
    try:
        write_public(tmp_path / "queue.csv", write, mode=0o600)
    finally:
        os.umask(old)
    assert seen == [0o600]
    assert mode(tmp_path / "queue.csv") == 0o600
    assert (tmp_path / "queue.csv").read_bytes() == b"record_key,decision\n"


def test_a_writer_by_path_writes_parquet_natively(tmp_path: Path) -> None:
    frame = pl.DataFrame({"source": ["apc", "ecds"], "rows": [3, 4]})
    target = write_public(tmp_path / "volume_R1.parquet", frame.write_parquet)
    assert pl.read_parquet(target).to_dict(as_series=False) == {"source": ["apc", "ecds"], "rows": [3, 4]}
    assert [p.name for p in tmp_path.iterdir()] == ["volume_R1.parquet"]


@pytest.mark.parametrize("data", [b"new bytes", lambda tmp: tmp.write_bytes(b"new bytes")])
def test_the_file_that_takes_the_name_is_the_one_fsynced_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: object
) -> None:
    events: list[tuple[str, int]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", os.stat(src).st_ino))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.bin"
    write_public(target, data)  # type: ignore[arg-type]
    inode = target.stat().st_ino
    assert events == [("fsync", inode), ("replace", inode)]
    assert target.read_bytes() == b"new bytes"


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "results_R1.parquet"
    target.write_bytes(b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_public(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results_R1.parquet"]


def test_a_failing_rename_leaves_no_temp(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()  # a folder of that name: the rename cannot replace it
    with pytest.raises(IsADirectoryError):
        write_public(tmp_path / "taken", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert list((tmp_path / "taken").iterdir()) == []
