"""Retire rotated-out keys for good: verify the home holds no old-version token, then destroy the keys.

After ``phm keys rotate`` the version-*n* token and vault keys sit in ``keys/retired/``: kept only so
that the operator can check the rotation before the point of no return. A retired token key together
with any file still holding its tokens re-identifies people (issue #14: 2,796 old tokens in
``HOME/cohort/*.parquet`` re-identified everyone in 12 s), so retiring means:

1. no rotation in progress (no journal);
2. no file anywhere under the home holds a version-*n* token (``P{n}-`` / ``U{n}-`` and 32 hex): parquet
   and DuckDB files are read value by value (their bytes are compressed), every other file as bytes;
3. only then each retired key file is overwritten with random bytes, synced and unlinked.

Step 3 runs only with ``confirm=True`` (``phm keys retire --confirm``, audited by the CLI).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from core.errors import Refused, UsageError
from core.layout import Home

__all__ = ["RetireError", "RetireResult", "old_token_files", "retire_keys"]

_RETIRED = re.compile(r"(token|vault)_key_v([1-9][0-9]*)\.key")


class RetireError(Refused):
    """Retiring was refused: a rotation is pending, or old-version tokens remain (files and counts)."""


@dataclass(frozen=True)
class RetireResult:
    versions: list[int]
    destroyed: int  # key files overwritten and removed


def _pattern(version: int) -> str:
    return rf"[PU]{version}-[0-9a-f]{{32}}"


def _parquet_hits(path: Path, pattern: str) -> int:
    scan = pl.scan_parquet(path)
    text = [c for c, t in scan.collect_schema().items() if t == pl.String]
    if not text:
        return 0
    counts = scan.select(pl.col(c).str.contains(pattern).sum() for c in text).collect()
    return int(sum(int(v or 0) for v in counts.row(0)))


def _duckdb_hits(path: Path, pattern: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall()
        total = 0
        for table, column in cols:
            (n,) = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE regexp_matches("{column}", $p)',  # noqa: S608 (catalogue)
                {"p": pattern},
            ).fetchall()[0]
            total += int(n)
        return total
    finally:
        con.close()


def old_token_files(home: Home, version: int) -> list[tuple[Path, int]]:
    """Every file under the home holding version-``version`` tokens, with how many (values or matches)."""
    pattern = _pattern(version)
    raw = re.compile(pattern.encode("ascii"))
    found: list[tuple[Path, int]] = []
    for path in sorted(p for p in home.root.rglob("*") if p.is_file() and not p.is_symlink()):
        if path.suffix == ".parquet":
            n = _parquet_hits(path, pattern)
        elif path.suffix == ".duckdb":
            n = _duckdb_hits(path, pattern)
        else:
            n = len(raw.findall(path.read_bytes()))
        if n:
            found.append((path, n))
    return found


def _destroy(path: Path) -> None:
    """Overwrite a key file with random bytes, sync, then unlink it."""
    size = max(path.stat().st_size, 1)
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.write(fd, secrets.token_bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()


def retire_keys(home: Home, keys_dir: Path, *, confirm: bool) -> RetireResult:
    """Destroy the retired key versions in ``keys_dir/retired`` once the home holds none of their tokens.

    Without ``confirm`` nothing is destroyed (UsageError). Raises `RetireError` naming the files (and
    counts, never values) that still hold old tokens, or when a rotation is still in progress.
    """
    if home.rotation_journal.exists():
        raise RetireError("a key rotation is in progress; finish it (phm keys rotate) before retiring keys")
    retired = keys_dir / "retired"
    files = sorted(p for p in retired.glob("*.key") if _RETIRED.fullmatch(p.name)) if retired.is_dir() else []
    versions = sorted({int(m.group(2)) for p in files if (m := _RETIRED.fullmatch(p.name))})
    if not versions:
        raise RetireError(f"no retired keys in {retired}: nothing to retire")
    left = [(path, n) for v in versions for path, n in old_token_files(home, v)]
    if left:
        listed = "; ".join(f"{p.relative_to(home.root)}: {n}" for p, n in left)
        raise RetireError(f"old-version tokens remain, keys kept: {listed}")
    if not confirm:
        raise UsageError(
            f"the home holds no token of v{', v'.join(map(str, versions))}; "
            "destroying the retired keys cannot be undone: add --confirm"
        )
    for path in files:
        _destroy(path)
    return RetireResult(versions, len(files))
