"""What was delivered to landing/: the naming rules, an inventory of every entry, and safe reading.

Why an inventory: a file the pipeline does not recognise used to be ignored without a word (a misnamed
month, a `.csv.gz`, a resubmission), so rows went missing with exit 0. Here every entry under landing
gets a status: loaded, superseded by a resubmission, a register or reference file, the manifest of a
delivery, or *not loaded* with a reason. The run summary and `load_log` list them; `phm run` exits 1
when a delivered file was not loaded unless the operator skipped it by name.

Naming rule (docs/extracts.md): `<source>/<source>_<YYYY-MM>[_v<N>].csv[.gz]`, N >= 2 for a
resubmission; the highest version of a month replaces the earlier deliveries. National batch tracing
answers (`dbs/dbs_response_<YYYY-MM>[_<N>].csv`, docs/extracts.md) are inventoried as TRACE_RESPONSE:
the trace stage reads every one of them, whatever months the run loads.

Only regular files are read: each entry is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat,
so a symlink is refused (never followed, in or out of landing), and a FIFO or device is refused
without the open ever blocking.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import stat
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from connectors.errors import ExtractFileError
from connectors.manifest import MANIFEST_SUFFIX, check_digest, read_manifest
from connectors.registers import REGISTERS
from connectors.spec import EXTRACTS

FORMATS: Final = (".csv", ".csv.gz")
# A DBS response answers the request of the same stem (`dbs_request_<stem>.csv`, written by tracing).
DBS_FOLDER: Final = "dbs"
DBS_RESPONSE: Final = re.compile(
    r"dbs_response_(?P<stem>\d{4}-(?:0[1-9]|1[0-2])(?:_(?:[2-9]|[1-9]\d+))?)\.csv"
)
_DELIVERY: Final = re.compile(r"(?P<source>[a-z0-9_]+?)_(?P<month>\d{4}-(?:0[1-9]|1[0-2]))(?:_v(?P<v>\d+))?")

# Statuses of an inventory entry. Only NOT_LOADED makes `phm run` exit 1.
LOADED: Final = "loaded"
SUPERSEDED: Final = "superseded"
REGISTER: Final = "register"
MANIFEST: Final = "manifest"
SKIPPED: Final = "skipped"
TRACE_RESPONSE: Final = "trace_response"
NOT_LOADED: Final = "not_loaded"

# Reasons for NOT_LOADED.
UNEXPECTED_NAME: Final = "unexpected name"
UNSUPPORTED_FORMAT: Final = "unsupported format"
NOT_REGULAR: Final = "not a regular file"
OUTSIDE_MONTHS: Final = "outside the months requested"
DUPLICATE_DELIVERY: Final = "two deliveries of the same month and version"
NO_MANIFEST: Final = "no manifest (control totals not checked)"  # a warning: the file still loads


@dataclass(frozen=True)
class Entry:
    """One entry under landing/ and what the load does with it (no file contents)."""

    path: str  # relative to landing, '/' separated
    status: str
    reason: str = ""
    source: str | None = None
    month: str | None = None
    version: int | None = None
    manifest: bool = False  # a control-totals manifest sits beside it

    @property
    def unloaded(self) -> bool:
        return self.status == NOT_LOADED


@dataclass(frozen=True)
class Delivery:
    """A delivered extract file: its source, month and version (1 for the original)."""

    path: str
    source: str
    month: str
    version: int
    gz: bool


def parse_delivery(rel: str) -> Delivery | str:
    """The delivery a path names, or the reason it is not one (UNEXPECTED_NAME / UNSUPPORTED_FORMAT)."""
    parts = rel.split("/")
    if len(parts) != 2 or parts[0] not in EXTRACTS:
        return UNEXPECTED_NAME
    folder, name = parts
    ext = next((e for e in sorted(FORMATS, key=len, reverse=True) if name.endswith(e)), None)
    stem = name[: -len(ext)] if ext else name.split(".", 1)[0]
    m = _DELIVERY.fullmatch(stem)
    if m is None or m["source"] != folder or (m["v"] is not None and int(m["v"]) < 2):
        return UNEXPECTED_NAME
    if ext is None:
        return UNSUPPORTED_FORMAT
    return Delivery(rel, folder, m["month"], int(m["v"] or 1), ext == ".csv.gz")


def dbs_response_stem(rel: str) -> str | None:
    """The request stem a DBS response answers (``dbs/dbs_response_2026-10_2.csv`` -> ``2026-10_2``)."""
    folder, _, name = rel.partition("/")
    m = DBS_RESPONSE.fullmatch(name) if folder == DBS_FOLDER else None
    return m["stem"] if m else None


def dbs_responses(landing: Path) -> list[Path]:
    """The DBS response files delivered to landing, in stem order (a later batch answers last)."""
    folder = landing / DBS_FOLDER
    if not folder.is_dir():
        return []
    # Regular files only: a symlink or FIFO of that name is NOT_LOADED in the inventory, never read.
    found = [
        (stem, p)
        for p in folder.iterdir()
        if (stem := dbs_response_stem(f"{DBS_FOLDER}/{p.name}")) and p.is_file() and not p.is_symlink()
    ]
    return [p for _, p in sorted(found, key=lambda sp: _stem_order(sp[0]))]


def _stem_order(stem: str) -> tuple[str, int]:
    month, _, batch = stem.partition("_")
    return month, int(batch or 1)


def delivery_month(source: str, name: str) -> str | None:
    """'YYYY-MM' of a file named by the delivery rule for ``source``, else None."""
    found = parse_delivery(f"{source}/{name}")
    return found.month if isinstance(found, Delivery) else None


def _walk(landing: Path) -> Iterable[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry under landing; symlinked folders are entries, not entered."""
    stack = [landing]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in sorted(it, key=lambda e: e.name):
                st = entry.stat(follow_symlinks=False)
                rel = Path(entry.path).relative_to(landing).as_posix()
                if stat.S_ISDIR(st.st_mode):
                    stack.append(Path(entry.path))
                else:
                    yield rel, st


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def inventory(landing: Path, months: Iterable[str] | None = None, skip: Iterable[str] = ()) -> list[Entry]:
    """Every entry under landing with its status, sorted by path.

    ``months``: the months requested (None = every month delivered); deliveries of other months are
    NOT_LOADED (OUTSIDE_MONTHS). ``skip``: relative paths of entries that cannot be loaded which the operator has
    acknowledged (SKIPPED instead of NOT_LOADED, so not fatal).
    """
    wanted = None if months is None else set(months)
    skipped = set(skip)
    registers = {r.path for r in REGISTERS}
    found = dict(_walk(landing)) if landing.is_dir() else {}
    entries: dict[str, Entry] = {}
    deliveries: dict[tuple[str, str], list[Delivery]] = {}
    for rel, st in found.items():
        regular = stat.S_ISREG(st.st_mode)
        if rel.endswith(MANIFEST_SUFFIX) and rel[: -len(MANIFEST_SUFFIX)] in found:
            entries[rel] = Entry(rel, MANIFEST, f"control totals of {rel[: -len(MANIFEST_SUFFIX)]}")
            continue
        if not regular:
            entries[rel] = Entry(rel, NOT_LOADED, f"{NOT_REGULAR} ({_kind(st)})")
            continue
        if rel in registers:
            entries[rel] = Entry(rel, REGISTER)
            continue
        if dbs_response_stem(rel) is not None:
            entries[rel] = Entry(rel, TRACE_RESPONSE, "DBS trace response, applied by tracing")
            continue
        parsed = parse_delivery(rel)
        if isinstance(parsed, str):
            entries[rel] = Entry(rel, NOT_LOADED, parsed)
        else:
            deliveries.setdefault((parsed.source, parsed.month), []).append(parsed)
    for (source, month), group in deliveries.items():
        top = max(d.version for d in group)
        latest = [d for d in group if d.version == top]
        for d in group:
            has_manifest = d.path + MANIFEST_SUFFIX in found
            base = Entry(d.path, LOADED, "", source, month, d.version, has_manifest)
            if len(latest) > 1:
                entries[d.path] = _with(base, NOT_LOADED, DUPLICATE_DELIVERY)
            elif d.version < top:
                entries[d.path] = _with(base, SUPERSEDED, f"replaced by {latest[0].path}")
            elif wanted is not None and month not in wanted:
                entries[d.path] = _with(base, NOT_LOADED, OUTSIDE_MONTHS)
            else:
                notes = [f"resubmission v{top} replaces earlier deliveries"] if top > 1 else []
                entries[d.path] = _with(
                    base, LOADED, "; ".join(notes + ([] if has_manifest else [NO_MANIFEST]))
                )
    for rel, entry in entries.items():
        if rel in skipped and entry.status == NOT_LOADED:
            entries[rel] = _with(entry, SKIPPED, f"skipped by the operator ({entry.reason or entry.status})")
    return [entries[k] for k in sorted(entries)]


def _with(entry: Entry, status: str, reason: str) -> Entry:
    return Entry(entry.path, status, reason, entry.source, entry.month, entry.version, entry.manifest)


def delivered_file(landing: Path, source: str, month: str) -> Path | None:
    """The file to load for a source's month: the latest delivery, or None (none, or ambiguous)."""
    return delivered_files(landing).get((source, month))


def delivered_files(landing: Path) -> dict[tuple[str, str], Path]:
    """`delivered_file` for every (source, month) at once, from one inventory.

    A load asks for hundreds of months; one walk of landing per month (each stat-ing every entry, in
    Python, holding the GIL the ingest threads need) cost ~15 s of a 200,000-person ingest.
    """
    chosen: dict[tuple[str, str], list[str]] = {}
    for e in inventory(landing):
        if e.status == LOADED and e.source and e.month:
            chosen.setdefault((e.source, e.month), []).append(e.path)
    return {key: landing / paths[0] for key, paths in chosen.items() if len(paths) == 1}


def inventory_of(landing: Path, source: str) -> list[Entry]:
    """The deliveries of one source, with their status (every month)."""
    return [e for e in inventory(landing) if e.source == source]


def delivered_months(landing: Path) -> list[str]:
    """Months ('YYYY-MM') with at least one delivery that would load, sorted."""
    return loaded_months(inventory(landing))


def loaded_months(entries: Iterable[Entry]) -> list[str]:
    """The months an inventory loads, sorted."""
    return sorted({e.month for e in entries if e.status == LOADED and e.month})


def read_landing_bytes(path: Path, file: str) -> bytes:
    """The bytes of a landing file, safely: a regular file only, never blocking, gz decompressed.

    The manifest beside it (if any) is checked against the delivered bytes here (SHA-256); its row
    count is checked by the load once the rows are counted. Line ends (LF, CRLF, or CR only) are the
    record reader's business (`connectors.rawfile`).
    """
    raw = read_regular(path, file)
    manifest = read_manifest(path, file, read_regular)
    if manifest is not None:
        check_digest(manifest, raw, file)
    data = _gunzip(raw, file) if path.name.endswith(".gz") else raw
    return data


def read_regular(path: Path, file: str) -> bytes:
    """Read a file that must be a regular file, refusing symlinks, FIFOs and devices by name."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ExtractFileError(file, f"{NOT_REGULAR} (symbolic link): symlinks are refused") from None
        raise ExtractFileError(file, f"unreadable ({exc.strerror or type(exc).__name__})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ExtractFileError(file, f"{NOT_REGULAR} ({_kind(st)}): refused")
        chunks = []
        while chunk := os.read(fd, 1 << 24):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ExtractFileError(file, f"unreadable ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)


def _gunzip(raw: bytes, file: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise ExtractFileError(file, "truncated gzip (the compressed stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error):
        raise ExtractFileError(file, "not a valid gzip file") from None
