"""Checking the audit log: the keyed MAC chain, the published head file, and anchors kept elsewhere.

``verify`` reads the whole log under a shared lock and names the first line that does not hold:

* each entry's ``mac`` must be HMAC-SHA256(audit key, the entry without ``mac``): an edit, or a chain
  regenerated without the key, fails here;
* ``seq`` runs 1, 2, 3 … and ``prev_mac`` is the previous entry's ``mac``: deleting, inserting or
  reordering entries fails here;
* the head file (one MAC'd line per entry: seq, mac) must match the log line for line and end at the
  log's last entry: deleting the last entries, or editing the head file, fails here;
* ``anchors`` (heads published elsewhere, e.g. copied from the transparency report) must match.

Messages name lines, seqs and what failed; never a value from an entry.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Refused

__all__ = [
    "GENESIS_MAC",
    "NHS_LIKE",
    "AuditError",
    "Head",
    "VerifyResult",
    "canonical",
    "head_line",
    "mac_of",
    "verify",
]

GENESIS_MAC = "0" * 64
# Ten digits, optionally grouped 3-3-4 with spaces or dashes, not part of a longer run of digits.
NHS_LIKE = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")
_FIELDS = frozenset(
    {"seq", "time", "event", "user", "os_account", "register_sha256", "purpose", "cohort", "practice",
     "outcome", "reason", "count_released", "output_sha256", "prev_mac", "mac"}
)  # fmt: skip
_HEAD_FIELDS = frozenset({"seq", "mac", "time", "head_mac"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AuditError(Refused):
    """The audit log cannot be used safely (broken, wrong permissions, missing, no key). Never holds values."""


@dataclass(frozen=True)
class Head:
    """The latest entry's position and MAC: published after every entry, and worth keeping elsewhere."""

    seq: int
    mac: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.mac}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or not _HEX64.fullmatch(digest):
            raise ValueError("an anchor is written '<seq>:<64 hex digits>'")
        return cls(int(seq), digest)


@dataclass(frozen=True)
class VerifyResult:
    """``entries``: entries verified before the first problem; ``head``: the last verified entry's head;
    ``first_bad_seq``: the 1-based line where the check first fails (None when ``ok``)."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None
    head: Head = Head(0, GENESIS_MAC)


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def mac_of(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, canonical({k: v for k, v in body.items() if k != "mac"}), hashlib.sha256).hexdigest()


def _head_mac(key: bytes, head: Head, time: str) -> str:
    return hmac.new(key, f"phm-audit-head|{head.seq}|{head.mac}|{time}".encode(), hashlib.sha256).hexdigest()


def head_line(key: bytes, head: Head, time: str) -> bytes:
    """One head-file line for ``head``, MAC'd so the head file cannot be edited without the key."""
    body = {"seq": head.seq, "mac": head.mac, "time": time, "head_mac": _head_mac(key, head, time)}
    return canonical(body) + b"\n"


def _read_locked(path: Path) -> bytes:
    with open(path, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_SH)  # never read half of an append
        return f.read()


def _lines(data: bytes) -> tuple[list[bytes], bool]:
    """The lines, and whether the last one is unterminated (a cut-short write)."""
    lines = data.split(b"\n")
    terminated = data.endswith(b"\n") or not data
    if terminated:
        lines.pop()
    return lines, not terminated


def _entry_problem(key: bytes, raw: bytes, n: int, prev: str) -> tuple[str | None, dict[str, Any] | None]:
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "not a valid JSON entry (garbled)", None
    ints = isinstance(entry, dict) and all(
        isinstance(entry.get(k), int) and not isinstance(entry.get(k), bool)
        for k in ("seq", "count_released")
    )
    macs = ints and all(
        isinstance(entry.get(k), str) and _HEX64.fullmatch(entry[k]) for k in ("prev_mac", "mac")
    )
    if not (macs and set(entry) == _FIELDS):
        return "not a well-formed audit entry (fields missing, unknown or of the wrong type)", None
    if not hmac.compare_digest(mac_of(key, entry), entry["mac"]):
        return (
            f"entry seq {entry['seq']} does not match its MAC (edited, or written without the audit key)",
            None,
        )
    if entry["seq"] != n:
        return f"seq is {entry['seq']}, expected {n} (an entry was deleted, inserted or reordered)", None
    if entry["prev_mac"] != prev:
        return f"prev_mac does not match entry {n - 1} (entries were deleted, inserted or reordered)", None
    return None, entry


def _heads(key: bytes, head_path: Path) -> tuple[list[Head], str | None]:
    """The head file's heads, or the first problem with it."""
    try:
        lines, cut = _lines(_read_locked(head_path))
    except FileNotFoundError:
        return [], "the head file is missing (it is written after every entry)"
    heads: list[Head] = []
    for n, raw in enumerate(lines, start=1):
        try:
            line = json.loads(raw.decode("utf-8"))
            ok = isinstance(line, dict) and set(line) == _HEAD_FIELDS and line["seq"] == n
            head = Head(int(line["seq"]), str(line["mac"])) if ok else None
            ok = (
                ok
                and head is not None
                and hmac.compare_digest(_head_mac(key, head, str(line["time"])), str(line["head_mac"]))
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            ok, head = False, None
        if not ok or head is None or (cut and n == len(lines)):
            return heads, f"head file line {n} is not a valid head (edited, reordered or cut short)"
        heads.append(head)
    return heads, None


def verify(
    path: Path | str, key: bytes, *, head_path: Path | None = None, anchors: Iterable[Head] = ()
) -> VerifyResult:
    """Check the whole chain under ``key``, against the head file (if given) and any ``anchors``."""
    path = Path(path)
    try:
        data = _read_locked(path)
    except FileNotFoundError:
        if head_path is not None and head_path.exists():
            return VerifyResult(False, 0, 1, "line 1: the log is missing but its head file records entries")
        raise AuditError(f"audit log not found: {path}") from None
    return verify_bytes(data, key, head_path=head_path, anchors=anchors)


def verify_bytes(
    data: bytes, key: bytes, *, head_path: Path | None = None, anchors: Iterable[Head] = ()
) -> VerifyResult:
    """``verify`` on the log's bytes, read by a caller that already holds the log's lock."""
    lines, cut = _lines(data)
    prev, head = GENESIS_MAC, Head(0, GENESIS_MAC)
    macs: list[str] = []
    for n, raw in enumerate(lines, start=1):
        if cut and n == len(lines):
            return VerifyResult(False, n - 1, n, f"line {n}: the last line is incomplete (cut short)", head)
        problem, entry = _entry_problem(key, raw, n, prev)
        if problem is not None or entry is None:
            return VerifyResult(False, n - 1, n, f"line {n}: {problem}", head)
        prev = entry["mac"]
        head = Head(n, prev)
        macs.append(prev)
    count = len(macs)
    published = list(anchors)
    if head_path is not None and (count > 0 or head_path.exists()):  # a new, empty log has no heads yet
        heads, problem = _heads(key, head_path)
        if problem is not None:
            return VerifyResult(False, count, count + 1, problem, head)
        if len(heads) < count:
            return VerifyResult(
                False, count, len(heads) + 1,
                f"line {len(heads) + 1}: the head file ends at seq {len(heads)} but the log goes on to seq "
                f"{count} (entries were added without publishing a head, or heads were removed)",
                head,
            )  # fmt: skip
        published += heads
    for anchor in sorted(published, key=lambda h: h.seq):
        if anchor.seq == 0:
            if anchor.mac != GENESIS_MAC:
                return VerifyResult(
                    False, 0, 1, "line 1: an anchor for seq 0 must be the genesis value", head
                )
            continue
        if anchor.seq > count:
            return VerifyResult(
                False, count, count + 1,
                f"line {count + 1}: the log ends at seq {count} but a head was published for seq {anchor.seq} "
                "(entries were removed from the end)",
                head,
            )  # fmt: skip
        if macs[anchor.seq - 1] != anchor.mac:
            return VerifyResult(
                False, anchor.seq - 1, anchor.seq,
                f"line {anchor.seq}: entry seq {anchor.seq} differs from its published head (the log was rewritten)",
                head,
            )  # fmt: skip
    return VerifyResult(True, count, None, None, head)
