"""Audit log: keyed MAC chain, head file, tamper detection naming the first bad line, no NHS numbers."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pwd
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pseudonymisation.release import (
    GENESIS_MAC,
    AuditError,
    AuditLog,
    AuditValueError,
    Head,
    VerifyResult,
    verify,
)

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
SHA = "ab" * 32
KEY = bytes(range(1, 33))
OTHER_KEY = bytes(range(101, 133))


def ticking_clock() -> Callable[[], datetime]:
    ticks = iter(range(10_000))
    return lambda: T0 + timedelta(seconds=next(ticks))


def make_log(tmp: Path, key: bytes = KEY) -> AuditLog:
    return AuditLog(tmp / "audit" / "log.jsonl", tmp / "audit" / "head.jsonl", key, clock=ticking_clock())


def five_entries(log: AuditLog) -> AuditLog:
    grant = {"event": "release", "outcome": "granted", "output_sha256": SHA}
    log.append(user="gp-a81001", purpose="diabetes-recall", cohort="c1", practice="A81001", count_released=12, **grant)  # type: ignore[arg-type]  # fmt: skip
    log.append(user="gp-a81002", purpose="diabetes-recall", cohort="c1", practice="A81002", count_released=7, **grant)  # type: ignore[arg-type]  # fmt: skip
    log.append(
        event="release", outcome="denied", user="gp-b82005", purpose="pilot", reason="purpose_not_active"
    )
    log.append(event="key_rotation", outcome="granted")
    log.append(user="gp-a81001", purpose="frailty", cohort="c2", practice="A81001", count_released=40, **grant)  # type: ignore[arg-type]  # fmt: skip
    return log


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return five_entries(make_log(tmp_path))


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def rechain(lines: list[str], key: bytes) -> list[str]:
    """What an attacker does after deleting entries: renumber and re-MAC the rest under ``key``."""
    out, prev = [], GENESIS_MAC
    for n, line in enumerate(lines, start=1):
        body = {k: v for k, v in json.loads(line).items() if k != "mac"}
        body.update(seq=n, prev_mac=prev)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        body["mac"] = prev = hmac.new(key, canonical, hashlib.sha256).hexdigest()
        out.append(json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")
    return out


def test_five_entries_verify_against_their_head_file(log: AuditLog) -> None:
    result = log.verify()
    assert (result.ok, result.entries, result.problem) == (True, 5, None)
    last = json.loads(lines_of(log.path)[-1])
    assert result.head == Head(5, last["mac"])
    heads = [json.loads(line) for line in lines_of(log.head_path)]
    assert [h["seq"] for h in heads] == [1, 2, 3, 4, 5]
    assert heads[-1]["mac"] == last["mac"]


def test_mac_is_hmac_sha256_under_the_audit_key(log: AuditLog) -> None:
    entry = json.loads(lines_of(log.path)[0])
    body = json.dumps({k: v for k, v in entry.items() if k != "mac"}, sort_keys=True, separators=(",", ":"))
    assert entry["mac"] == hmac.new(KEY, body.encode(), hashlib.sha256).hexdigest()
    assert entry["prev_mac"] == GENESIS_MAC


def test_entries_record_the_os_account_and_event(log: AuditLog) -> None:
    entries = [json.loads(line) for line in lines_of(log.path)]
    assert [e["event"] for e in entries] == ["release", "release", "release", "key_rotation", "release"]
    assert {e["os_account"] for e in entries} == {pwd.getpwuid(os.geteuid()).pw_name}


def test_edit_is_named(log: AuditLog) -> None:
    lines = lines_of(log.path)
    lines[1] = lines[1].replace('"count_released":7', '"count_released":0')
    rewrite(log.path, lines)
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert (
        result.problem
        == "line 2: entry seq 2 does not match its MAC (edited, or written without the audit key)"
    )


def test_deleting_the_last_entry_is_caught_by_the_head_file(log: AuditLog) -> None:
    rewrite(log.path, lines_of(log.path)[:-1])
    result = log.verify()
    assert (result.ok, result.entries, result.first_bad_seq) == (False, 4, 5)
    assert result.problem == (
        "line 5: the log ends at seq 4 but a head was published for seq 5 (entries were removed from the end)"
    )


def test_deleting_all_grants_and_rechaining_without_the_key_is_caught(log: AuditLog) -> None:
    kept = [
        line for line in lines_of(log.path) if '"outcome":"granted"' not in line or "key_rotation" in line
    ]
    rewrite(log.path, rechain(kept, OTHER_KEY))  # the attacker's own key: the MACs do not verify
    result = log.verify(use_head_file=False)
    assert (
        result.problem
        == "line 1: entry seq 1 does not match its MAC (edited, or written without the audit key)"
    )


def test_rechaining_with_the_key_is_still_caught_by_the_head_file(log: AuditLog) -> None:
    kept = [
        line for line in lines_of(log.path) if '"outcome":"granted"' not in line or "key_rotation" in line
    ]
    rewrite(log.path, rechain(kept, KEY))
    assert log.verify(use_head_file=False).ok  # the chain alone now holds...
    result = log.verify()  # ...but not against the heads published after every entry
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert result.problem == "line 1: entry seq 1 differs from its published head (the log was rewritten)"


def test_editing_the_head_file_is_caught(log: AuditLog) -> None:
    heads = lines_of(log.head_path)
    heads[2] = heads[2].replace('"seq":3', '"seq":30')
    rewrite(log.head_path, heads)
    result = log.verify()
    assert result.problem == "head file line 3 is not a valid head (edited, reordered or cut short)"


def test_truncating_the_head_file_with_the_log_is_caught_by_an_anchor(log: AuditLog) -> None:
    anchor = log.verify().head  # e.g. copied from a transparency report
    rewrite(log.path, lines_of(log.path)[:3])
    rewrite(log.head_path, lines_of(log.head_path)[:3])
    assert log.verify().ok  # both files cut consistently: only a witness elsewhere catches it
    result = log.verify([anchor])
    assert result.problem == (
        "line 4: the log ends at seq 3 but a head was published for seq 5 (entries were removed from the end)"
    )


def test_a_missing_head_file_is_caught(log: AuditLog) -> None:
    log.head_path.unlink()
    assert log.verify().problem == "the head file is missing (it is written after every entry)"


def test_an_entry_without_a_published_head_is_caught(log: AuditLog) -> None:
    rewrite(log.head_path, lines_of(log.head_path)[:-1])
    assert log.verify().problem == (
        "line 5: the head file ends at seq 4 but the log goes on to seq 5 "
        "(entries were added without publishing a head, or heads were removed)"
    )


def test_delete_insert_reorder_and_truncation_are_named(log: AuditLog, tmp_path: Path) -> None:
    original = lines_of(log.path)
    cases = {
        "delete": (original[:1] + original[2:], "line 2: seq is 3, expected 2"),
        "reorder": ([original[1], original[0], *original[2:]], "line 1: seq is 2, expected 1"),
        "truncate": ([*original[:4], original[4][:-20]], "line 5: the last line is incomplete (cut short)"),
        "garble": ([*original[:4], "{not json\n"], "line 5: not a valid JSON entry (garbled)"),
    }
    for name, (lines, problem) in cases.items():
        rewrite(log.path, lines)
        result = log.verify(use_head_file=False)
        assert not result.ok and result.problem is not None and result.problem.startswith(problem), name


def test_append_refuses_a_log_broken_mid_chain(log: AuditLog) -> None:
    lines = lines_of(log.path)
    lines[2] = lines[2].replace("purpose_not_active", "nothing_to_see")
    rewrite(log.path, lines)
    with pytest.raises(AuditError, match="fails verification, nothing is appended: line 3: entry seq 3"):
        log.append(event="release", outcome="denied", reason="x")
    assert len(lines_of(log.path)) == 5


def test_append_refuses_a_wrong_key(tmp_path: Path) -> None:
    five_entries(make_log(tmp_path))
    with pytest.raises(AuditError, match="line 1: entry seq 1 does not match its MAC"):
        make_log(tmp_path, OTHER_KEY).append(event="release", outcome="denied", reason="x")


def test_bad_anchor_mac_is_named(log: AuditLog) -> None:
    result = log.verify([Head(2, "0" * 64)])
    assert result.problem == "line 2: entry seq 2 differs from its published head (the log was rewritten)"


def test_anchor_parse() -> None:
    assert Head.parse(f"3:{SHA}") == Head(3, SHA)
    with pytest.raises(ValueError, match="seq"):
        Head.parse("three:abc")


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", "patient 9990001234 deceased"), ("reason", "999 000 1234"), ("user", "999-000-1234"),
     ("cohort", "x9990001234"), ("practice", "9990001234"), ("purpose", "9990001234")],
)  # fmt: skip
def test_refuses_values_that_look_like_nhs_numbers(tmp_path: Path, field: str, value: str) -> None:
    kwargs: dict[str, object] = {"event": "release", "outcome": "denied", "reason": "x", field: value}
    log = make_log(tmp_path)
    with pytest.raises(AuditValueError) as caught:
        log.append(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == f"{field} contains a 10-digit number (looks like an NHS number); refused"
    assert not log.path.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcome": "denied"}, "reason is required"),
        ({"outcome": "denied", "reason": "x", "count_released": 3}, "a denied request releases nothing"),
        ({"outcome": "granted", "user": "u"}, "a granted release needs the user and the output_sha256"),
        ({"outcome": "granted", "output_sha256": SHA}, "a granted release needs the user"),
        ({"outcome": "granted", "output_sha256": "ABC"}, "output_sha256 must be 64 lower-case hex digits"),
        ({"outcome": "maybe"}, "outcome must be 'granted' or 'denied'"),
        ({"outcome": "denied", "reason": "x", "event": "party"}, "event must be one of"),
        ({"outcome": "granted", "count_released": 9990001234}, "count_released is a 10-digit number"),
    ],
)
def test_entry_rules(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"event": "release", **kwargs}
    with pytest.raises(AuditValueError, match=message):
        make_log(tmp_path).append(**args)  # type: ignore[arg-type]


def test_naive_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditValueError, match="timezone-aware"):
        make_log(tmp_path).append(event="release", outcome="denied", reason="x", time=datetime(2026, 11, 3))


def test_files_are_private(log: AuditLog) -> None:
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.head_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700


def test_wider_existing_file_is_refused(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.path.parent.mkdir(mode=0o700)
    log.path.touch()
    os.chmod(log.path, 0o644)
    with pytest.raises(AuditError, match=r"mode 644\); chmod 600 it"):
        log.append(event="release", outcome="denied", reason="x")


def test_a_symlinked_log_is_refused(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.path.parent.mkdir(mode=0o700)
    (tmp_path / "elsewhere.jsonl").touch()
    log.path.symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(OSError):
        log.append(event="release", outcome="denied", reason="x")


def test_verify_missing_log(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="audit log not found"):
        verify(tmp_path / "absent.jsonl", KEY)


def test_a_deleted_log_with_heads_left_is_caught(log: AuditLog) -> None:
    log.path.unlink()
    assert log.verify().problem == "line 1: the log is missing but its head file records entries"


def test_empty_log_verifies(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").touch()
    assert verify(tmp_path / "a.jsonl", KEY) == VerifyResult(True, 0, None, None)


def test_concurrent_appends_do_not_interleave(tmp_path: Path) -> None:
    def worker(name: str) -> None:
        log = make_log(tmp_path)  # each thread its own file descriptors, as separate processes would have
        for _ in range(15):
            log.append(event="release", outcome="denied", user=name, reason="x")

    threads = [threading.Thread(target=worker, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = make_log(tmp_path).verify()
    assert (result.ok, result.entries) == (True, 60)
