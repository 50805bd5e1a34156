"""The release audit log: every re-identification attempt, granted or denied, in a hash chain.

One JSON object per line. Each entry carries ``prev_hash`` (the previous entry's ``entry_hash``; 64 zeros
for the first) and ``entry_hash`` = SHA-256 of the canonical JSON of the entry without ``entry_hash``
(keys sorted, no spaces, UTF-8). Editing, deleting, inserting or reordering entries, or cutting the last
line short, breaks the chain and ``verify`` names the first bad line. Removing entries from the end, or
rewriting the whole chain, is caught only against a published anchor (``AuditLog.head()``): see
docs/governance.md.

The log must never hold patient identifiers: ``append`` refuses any value that looks like an NHS number
(ten digits, with or without spaces/dashes) and says which field, never the value. Appends take an
exclusive ``fcntl`` lock on the file and fsync before releasing it, so concurrent writers (threads or
processes) cannot interleave or fork the chain. The file is created 0600 and refused if wider.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from core.errors import Refused, UsageError

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditValueError",
    "Head",
    "VerifyResult",
    "sha256_file",
    "verify",
]

GENESIS_HASH = "0" * 64
Outcome = Literal["granted", "denied"]
_OUTCOMES = ("granted", "denied")
_FIELDS = (
    "seq",
    "time",
    "requester",
    "purpose",
    "cohort",
    "practice",
    "outcome",
    "reason",
    "count_released",
    "output_sha256",
    "prev_hash",
    "entry_hash",
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$")
# Ten digits, optionally grouped 3-3-4 with spaces or dashes, not part of a longer run of digits.
_NHS_LIKE = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")
_MAX_TEXT = 500
_TAIL_CHUNK = 4096


class AuditError(Refused):
    """The audit log cannot be used safely (damaged, wrong permissions, missing). Never holds values."""


class AuditValueError(UsageError, ValueError):
    """An entry was refused before writing (bad field, or a value that looks like an NHS number)."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    requester: str
    purpose: str
    cohort: str | None
    practice: str | None
    outcome: Outcome
    reason: str | None
    count_released: int
    output_sha256: str | None
    prev_hash: str
    entry_hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Head:
    """The latest entry's position and hash: publish it elsewhere (an anchor) to detect later rewrites."""

    seq: int
    entry_hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.entry_hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or not _HEX64.fullmatch(digest):
            raise ValueError("an anchor is written '<seq>:<64 hex digits>'")
        return cls(int(seq), digest)


@dataclass(frozen=True)
class VerifyResult:
    """``entries``: entries verified before the first problem. ``first_bad_seq``: the 1-based line (= the
    seq that line should carry) where the chain first breaks; None when ``ok``."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in body.items() if k != "entry_hash"})).hexdigest()


def sha256_file(path: Path | str) -> str:
    """SHA-256 (hex) of a file, e.g. a released list, for ``output_sha256``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditValueError("time must be timezone-aware (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(name: str, value: object, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise AuditValueError(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise AuditValueError(f"{name} must be a non-empty string")
    if len(value) > _MAX_TEXT:
        raise AuditValueError(f"{name} is longer than {_MAX_TEXT} characters")
    if _NHS_LIKE.search(value):
        raise AuditValueError(f"{name} contains a 10-digit number (looks like an NHS number); refused")
    return value


def _is_entry(obj: object) -> bool:
    """Shape and types of a stored entry (content is checked by the hash)."""
    if not isinstance(obj, dict) or set(obj) != set(_FIELDS):
        return False
    ints = all(isinstance(obj[k], int) and not isinstance(obj[k], bool) for k in ("seq", "count_released"))
    hashes = all(isinstance(obj[k], str) and _HEX64.fullmatch(obj[k]) for k in ("prev_hash", "entry_hash"))
    return ints and hashes and obj["outcome"] in _OUTCOMES


class AuditLog:
    """Append-only, hash-chained audit log at ``path`` (created 0600 in a 0700 folder if missing).

    ``clock`` supplies the time when ``append`` is not given one (inject a fixed clock in tests).
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        self._clock = clock

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def append(
        self,
        *,
        requester: str,
        purpose: str,
        outcome: Outcome,
        cohort: str | None = None,
        practice: str | None = None,
        reason: str | None = None,
        count_released: int = 0,
        output_sha256: str | None = None,
        time: datetime | None = None,
    ) -> AuditEntry:
        """Record one release attempt and return the written entry.

        A denial needs a ``reason`` (code or short message) and releases nothing; a grant needs the
        ``output_sha256`` of the file released. No field may hold an NHS number.
        """
        fields = self._validated(
            requester, purpose, outcome, cohort, practice, reason, count_released, output_sha256
        )
        when = _format_time(time if time is not None else self._clock())
        fd = self._open_for_append()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _last_head(fd)
            body: dict[str, Any] = {"seq": last.seq + 1, "time": when, **fields, "prev_hash": last.entry_hash}
            body["entry_hash"] = _entry_hash(body)
            line = _canonical(body) + b"\n"
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        return AuditEntry(**body)

    def head(self) -> Head:
        """The latest entry's seq and hash (``Head(0, GENESIS_HASH)`` for an empty or missing log)."""
        if not self.path.exists():
            return Head(0, GENESIS_HASH)
        fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return _last_head(fd)
        finally:
            os.close(fd)

    def verify(self, anchors: Iterable[Head] = ()) -> VerifyResult:
        return verify(self.path, anchors)

    @staticmethod
    def _validated(
        requester: str,
        purpose: str,
        outcome: str,
        cohort: str | None,
        practice: str | None,
        reason: str | None,
        count_released: int,
        output_sha256: str | None,
    ) -> dict[str, Any]:
        if outcome not in _OUTCOMES:
            raise AuditValueError("outcome must be 'granted' or 'denied'")
        if isinstance(count_released, bool) or not isinstance(count_released, int) or count_released < 0:
            raise AuditValueError("count_released must be a non-negative integer")
        if _NHS_LIKE.fullmatch(str(count_released)):
            raise AuditValueError("count_released is a 10-digit number (looks like an NHS number); refused")
        if output_sha256 is not None and not (
            isinstance(output_sha256, str) and _HEX64.fullmatch(output_sha256)
        ):
            raise AuditValueError("output_sha256 must be 64 lower-case hex digits")
        fields = {
            "requester": _text("requester", requester, required=True),
            "purpose": _text("purpose", purpose, required=True),
            "cohort": _text("cohort", cohort, required=False),
            "practice": _text("practice", practice, required=False),
            "outcome": outcome,
            "reason": _text("reason", reason, required=outcome == "denied"),
            "count_released": count_released,
            "output_sha256": output_sha256,
        }
        if outcome == "denied" and (count_released != 0 or output_sha256 is not None):
            raise AuditValueError("a denied request releases nothing: count_released 0, output_sha256 None")
        if outcome == "granted" and output_sha256 is None:
            raise AuditValueError("a granted request needs the output_sha256 of the released file")
        return fields

    def _open_for_append(self) -> int:
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd = os.open(self.path, flags)
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode) or stat.S_IMODE(mode) & 0o077:
                os.close(fd)
                raise AuditError(
                    f"audit log {self.path} is not a private regular file (mode {stat.S_IMODE(mode):o}); "
                    "chmod 600 it"
                ) from None
            return fd
        os.fchmod(fd, 0o600)  # the mode given to open is masked by umask
        _fsync_dir(self.path.parent)  # the new file's name survives a crash too
        return fd


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_head(fd: int) -> Head:
    """Seq and hash of the last entry, checked; refuses to extend a damaged tail."""
    size = os.fstat(fd).st_size
    if size == 0:
        return Head(0, GENESIS_HASH)
    tail = b""
    pos = size
    while pos > 0 and b"\n" not in tail[:-1]:
        start = max(0, pos - _TAIL_CHUNK)
        tail = os.pread(fd, pos - start, start) + tail
        pos = start
    if not tail.endswith(b"\n"):
        raise AuditError("the last line of the audit log is incomplete (truncated write); run verify")
    line = tail[:-1].rsplit(b"\n", 1)[-1]
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        entry = None
    if not _is_entry(entry) or _entry_hash(entry) != entry["entry_hash"]:
        raise AuditError("the last entry of the audit log is damaged or altered; run verify")
    return Head(entry["seq"], entry["entry_hash"])


def _check_line(raw: bytes, n: int, prev: str, pinned: dict[int, str], *, unterminated: bool) -> str | None:
    """The problem with line ``n`` (1-based) given the previous entry's hash, or None if it is sound."""
    if unterminated:
        return "the last line is incomplete (truncated or interrupted write)"
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "not a valid JSON entry (garbled)"
    if not _is_entry(entry):
        return "not a well-formed audit entry (fields missing, unknown or of the wrong type)"
    if _entry_hash(entry) != entry["entry_hash"]:
        return f"entry seq {entry['seq']} does not match its entry_hash (the entry was edited)"
    if entry["seq"] != n:
        return f"seq is {entry['seq']}, expected {n} (an entry was deleted, inserted or reordered)"
    if entry["prev_hash"] != prev:
        return (
            f"prev_hash does not match entry {n - 1} (entry {n - 1} was altered, "
            "or entries were deleted, inserted or reordered)"
        )
    if n in pinned and pinned[n] != entry["entry_hash"]:
        return f"entry seq {n} differs from its published anchor (the log was rewritten)"
    return None


def verify(path: Path | str, anchors: Iterable[Head] = ()) -> VerifyResult:
    """Check the whole chain; ``anchors`` (published heads) also catch removed tails and rewrites."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)  # never read half of an append
            data = f.read()
    except FileNotFoundError:
        raise AuditError(f"audit log not found: {path}") from None
    pinned = {a.seq: a.entry_hash for a in anchors}
    lines = data.split(b"\n")
    if data.endswith(b"\n") or not data:
        lines.pop()
    prev = GENESIS_HASH
    for n, raw in enumerate(lines, start=1):
        unterminated = n == len(lines) and not data.endswith(b"\n")
        problem = _check_line(raw, n, prev, pinned, unterminated=unterminated)
        if problem is not None:
            return VerifyResult(False, n - 1, n, f"line {n}: {problem}")
        prev = json.loads(raw)["entry_hash"]
    count = len(lines)
    missing = sorted(s for s in pinned if s > count)
    if missing:
        return VerifyResult(
            False,
            count,
            count + 1,
            f"line {count + 1}: the log ends at seq {count} but an anchor was published for seq {missing[0]} "
            "(entries were removed from the end)",
        )
    if 0 in pinned and pinned[0] != GENESIS_HASH:
        return VerifyResult(False, 0, 1, "line 1: anchor for seq 0 must be the genesis hash")
    return VerifyResult(True, count, None, None)
