"""Control totals of a delivered file: the manifest beside it (row count and SHA-256).

Real feeds carry control totals in a control file or trailer; here each delivery may have
`<file name>.manifest.json` beside it (docs/extracts.md):

    {"file": "apc_2026-03.csv", "rows": 1234, "sha256": "<64 hex digits>"}

`sha256` is over the bytes as delivered (compressed, for a `.csv.gz`); `rows` counts data records,
the header excluded. A mismatch fails that file; a missing manifest is only a warning.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from connectors.errors import ExtractFileError

MANIFEST_SUFFIX: Final = ".manifest.json"
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Manifest:
    """The control totals a supplier sent with one file."""

    file: str
    rows: int
    sha256: str


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def manifest_text(name: str, rows: int, data: bytes) -> str:
    """The manifest of a file called ``name`` holding ``data`` (deterministic: sorted keys, no time)."""
    body = {"file": name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()}
    return json.dumps(body, sort_keys=True) + "\n"


def read_manifest(path: Path, file: str, read: Callable[[Path, str], bytes]) -> Manifest | None:
    """The manifest beside ``path`` (read with ``read``, the safe reader), or None when there is none."""
    where = manifest_path(path)
    if not where.exists() and not where.is_symlink():
        return None
    name = file + MANIFEST_SUFFIX
    try:
        body = json.loads(read(where, name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ExtractFileError(name, "manifest is not valid JSON") from None
    if not isinstance(body, dict):
        raise ExtractFileError(name, "manifest is not a JSON object")
    rows, digest, named = body.get("rows"), body.get("sha256"), body.get("file")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise ExtractFileError(name, "manifest 'rows' is not a whole number >= 0")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
        raise ExtractFileError(name, "manifest 'sha256' is not 64 hex digits")
    if named != path.name:
        raise ExtractFileError(name, f"manifest names another file (expected {path.name!r})")
    return Manifest(named, rows, digest.lower())


def check_digest(manifest: Manifest, data: bytes, file: str) -> None:
    """Fail the file when its bytes are not the ones the manifest describes."""
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise ExtractFileError(file, "SHA-256 does not match its manifest (changed or cut in transfer)")


def check_rows(manifest: Manifest | None, rows: int, file: str) -> None:
    """Fail the file when the data records read differ from the manifest's row count."""
    if manifest is not None and rows != manifest.rows:
        raise ExtractFileError(file, f"{rows} data rows read but its manifest says {manifest.rows}")
