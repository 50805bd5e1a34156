"""The audit log: every governed act (release, extract, key rotation, bundle install), granted or denied.

One JSON object per line, chained with a keyed MAC: ``mac`` = HMAC-SHA256(audit key, canonical JSON of
the entry without ``mac``), and each entry carries the previous entry's ``mac`` as ``prev_mac`` (64 zeros
for the first). The audit key is held apart from the token and vault keys (``KeyProvider.audit_key``),
so someone who edits, deletes or re-chains entries without it cannot make the chain verify again.

After every entry the head (seq, mac) is appended to a separate **head file** (``Home.audit_head``),
each head line MAC'd too; ``verify`` checks the log against it by default, so deleting the last entries
(or all grants, then re-chaining) is caught even by someone holding the key, unless they also rewrite
the head file, which the transparency report (which publishes the head) and any anchors kept
elsewhere then catch. Before appending, ``append`` verifies the **whole** chain and the head file and
refuses to extend a broken log (``AuditError``): nothing governed happens on top of a tampered record.

Each entry records the governance bundle in force (``register_sha256``) and the OS account that ran
the command. No field may hold an NHS number: ``append`` refuses any value shaped like one and says
which field, never the value. Appends hold an exclusive ``fcntl`` lock on the log and fsync both files.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypedDict

from core.errors import UsageError
from core.files import private_dir
from core.layout import Home

from ..keys import KeyProvider, KeyProviderError
from .audit_verify import (
    GENESIS_MAC,
    NHS_LIKE,
    AuditError,
    Head,
    VerifyResult,
    canonical,
    head_line,
    mac_of,
    verify,
    verify_bytes,
)

__all__ = [
    "EVENTS",
    "GENESIS_MAC",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditValueError",
    "Head",
    "VerifyResult",
    "Subject",
    "os_account",
    "recorded_id",
    "verify",
]

Event = Literal["release", "extract", "key_rotation", "key_retire", "register_install", "approver_add"]
EVENTS: tuple[str, ...] = (
    "release",
    "extract",
    "key_rotation",
    "key_retire",
    "register_install",
    "approver_add",
)
Outcome = Literal["granted", "denied"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAX_TEXT = 500


class Subject(TypedDict):
    """Who asked, and for what: ids only (the caller withholds anything not shaped like an id)."""

    user: str | None
    purpose: str | None
    cohort: str | None
    practice: str | None


class AuditValueError(UsageError, ValueError):
    """An entry was refused before writing (bad field, or a value that looks like an NHS number)."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    event: str
    user: str | None
    os_account: str
    register_sha256: str | None
    purpose: str | None
    cohort: str | None
    practice: str | None
    outcome: Outcome
    reason: str | None
    count_released: int
    output_sha256: str | None
    prev_mac: str
    mac: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recorded_id(value: str, shape: re.Pattern[str]) -> str | None:
    """An id as the log records it: only if it has the id's shape and nothing like an NHS number in it,
    else None (the log never holds free text a caller typed)."""
    return value if shape.fullmatch(value) and not NHS_LIKE.search(value) else None


def os_account() -> str:
    """The OS account running this process, from the kernel's uid (not $USER, which the caller sets)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditValueError("time must be timezone-aware (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(name: str, value: object, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise AuditValueError(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise AuditValueError(f"{name} must be a non-empty string")
    if len(value) > _MAX_TEXT:
        raise AuditValueError(f"{name} is longer than {_MAX_TEXT} characters")
    if NHS_LIKE.search(value):
        raise AuditValueError(f"{name} contains a 10-digit number (looks like an NHS number); refused")
    return value


def _hash(name: str, value: str | None) -> str | None:
    if value is not None and not (isinstance(value, str) and _HEX64.fullmatch(value)):
        raise AuditValueError(f"{name} must be 64 lower-case hex digits")
    return value


def _read_fd(fd: int) -> bytes:
    """The whole file behind ``fd`` (whose lock we hold: opening it again would wait on ourselves)."""
    size = os.fstat(fd).st_size
    chunks, pos = [], 0
    while pos < size:
        chunk = os.pread(fd, size - pos, pos)
        if not chunk:
            break
        chunks.append(chunk)
        pos += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


class AuditLog:
    """The keyed, hash-chained audit log at ``path`` with its head file at ``head_path``.

    ``key``: the audit key's bytes. ``clock`` supplies the time when ``append`` is not given one.
    """

    def __init__(
        self,
        path: Path,
        head_path: Path,
        key: bytes,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = Path(path)
        self.head_path = Path(head_path)
        self._key = key
        self._clock = clock

    @classmethod
    def for_home(cls, home: Home, keys: KeyProvider) -> AuditLog:
        """The installation's log; ``AuditError`` if the audit key cannot be read."""
        try:
            key = keys.audit_key().material
        except KeyProviderError as exc:
            raise AuditError(f"the audit key is unavailable: {exc}") from None
        return cls(home.audit_log, home.audit_head, key)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def verify(self, anchors: Iterable[Head] = (), *, use_head_file: bool = True) -> VerifyResult:
        return verify(
            self.path, self._key, head_path=self.head_path if use_head_file else None, anchors=anchors
        )

    def head(self) -> Head:
        """The latest verified head (``Head(0, GENESIS_MAC)`` for a new log); ``AuditError`` if broken."""
        result = self.verify() if self.path.exists() else None
        if result is not None and not result.ok:
            raise AuditError(f"the audit log fails verification: {result.problem}")
        return result.head if result is not None else Head(0, GENESIS_MAC)

    def append(
        self,
        *,
        event: Event,
        outcome: Outcome,
        user: str | None = None,
        register_sha256: str | None = None,
        purpose: str | None = None,
        cohort: str | None = None,
        practice: str | None = None,
        reason: str | None = None,
        count_released: int = 0,
        output_sha256: str | None = None,
        time: datetime | None = None,
    ) -> AuditEntry:
        """Verify the whole log and its head file, then record one act and publish the new head.

        A denial needs a ``reason`` and releases nothing; a granted release or extract needs the user
        and the ``output_sha256`` of the file written. ``AuditError`` if the log is already broken.
        """
        if event not in EVENTS:
            raise AuditValueError(f"event must be one of {', '.join(EVENTS)}")
        if outcome not in ("granted", "denied"):
            raise AuditValueError("outcome must be 'granted' or 'denied'")
        if isinstance(count_released, bool) or not isinstance(count_released, int) or count_released < 0:
            raise AuditValueError("count_released must be a non-negative integer")
        if NHS_LIKE.fullmatch(str(count_released)):
            raise AuditValueError("count_released is a 10-digit number (looks like an NHS number); refused")
        fields: dict[str, Any] = {
            "event": event,
            "user": _text("user", user),
            "os_account": _text("os_account", os_account(), required=True),
            "register_sha256": _hash("register_sha256", register_sha256),
            "purpose": _text("purpose", purpose),
            "cohort": _text("cohort", cohort),
            "practice": _text("practice", practice),
            "outcome": outcome,
            "reason": _text("reason", reason, required=outcome == "denied"),
            "count_released": count_released,
            "output_sha256": _hash("output_sha256", output_sha256),
        }
        if outcome == "denied" and (count_released != 0 or output_sha256 is not None):
            raise AuditValueError("a denied request releases nothing: count_released 0, output_sha256 None")
        if (
            outcome == "granted"
            and event in ("release", "extract")
            and (output_sha256 is None or user is None)
        ):
            raise AuditValueError(f"a granted {event} needs the user and the output_sha256 of the file")
        when = _format_time(time if time is not None else self._clock())
        fd = self._open(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            result = verify_bytes(_read_fd(fd), self._key, head_path=self.head_path)
            if not result.ok:
                raise AuditError(f"the audit log fails verification, nothing is appended: {result.problem}")
            body: dict[str, Any] = {
                "seq": result.head.seq + 1,
                "time": when,
                **fields,
                "prev_mac": result.head.mac,
            }
            body["mac"] = mac_of(self._key, body)
            _write_all(fd, canonical(body) + b"\n")
            head_fd = self._open(self.head_path)
            try:
                _write_all(head_fd, head_line(self._key, Head(body["seq"], body["mac"]), when))
            finally:
                os.close(head_fd)
        finally:
            os.close(fd)  # also releases the lock
        return AuditEntry(**body)

    @staticmethod
    def _open(path: Path) -> int:
        """Open for appending, creating it 0600 in a 0700 folder; refuse a symlink or a wider file."""
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        private_dir(path.parent)
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)  # the mode given to open is masked by umask
            return fd
        except FileExistsError:
            fd = os.open(path, flags)
        mode = os.fstat(fd).st_mode
        if (mode & 0o170000) != 0o100000 or mode & 0o077:
            os.close(fd)
            raise AuditError(f"{path} is not a private regular file (mode {mode & 0o777:o}); chmod 600 it")
        return fd
