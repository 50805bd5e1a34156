"""Audit log: hash chain, tamper detection naming the first bad line, no NHS numbers, private file."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pseudonymisation.release import (
    GENESIS_HASH,
    AuditError,
    AuditLog,
    AuditValueError,
    Head,
    VerifyResult,
    sha256_file,
    verify,
)

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
SHA = "ab" * 32


def ticking_clock() -> Callable[[], datetime]:
    ticks = iter(range(10_000))
    return lambda: T0 + timedelta(seconds=next(ticks))


def five_entries(path: Path) -> AuditLog:
    log = AuditLog(path, clock=ticking_clock())
    log.append(
        requester="gp.a81001",
        purpose="diabetes-recall",
        cohort="diabetes-overdue",
        practice="A81001",
        outcome="granted",
        count_released=12,
        output_sha256=SHA,
    )
    log.append(
        requester="gp.a81002",
        purpose="diabetes-recall",
        cohort="diabetes-overdue",
        practice="A81002",
        outcome="granted",
        count_released=7,
        output_sha256=SHA,
    )
    log.append(
        requester="gp.a81001",
        purpose="ics-risk-stratification",
        cohort="kaiser-tier-1",
        practice="A81001",
        outcome="granted",
        count_released=31,
        output_sha256=SHA,
    )
    log.append(
        requester="pharm.b82005",
        purpose="winter-respiratory-pilot",
        cohort="copd-frequent-admitters",
        practice="B82005",
        outcome="denied",
        reason="purpose_expired",
    )
    log.append(
        requester="gp.a81001",
        purpose="proactive-frailty-review",
        cohort="frailty-moderate-severe",
        practice="A81001",
        outcome="granted",
        count_released=40,
        output_sha256=SHA,
    )
    return log


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "release_audit.jsonl"
    five_entries(path)
    return path


def test_five_entries_verify(log_path: Path) -> None:
    assert verify(log_path) == VerifyResult(ok=True, entries=5, first_bad_seq=None, problem=None)
    entries = [json.loads(line) for line in lines_of(log_path)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    assert [e["prev_hash"] for e in entries[1:]] == [e["entry_hash"] for e in entries[:-1]]
    assert entries[0]["time"] == "2026-11-03T09:00:00.000Z"
    assert entries[3] == {
        **entries[3],
        "outcome": "denied",
        "reason": "purpose_expired",
        "count_released": 0,
        "output_sha256": None,
    }


def test_entry_hash_is_sha256_of_canonical_json_without_it(log_path: Path) -> None:
    for line in lines_of(log_path):
        entry = json.loads(line)
        body = {k: v for k, v in entry.items() if k != "entry_hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(canonical).hexdigest() == entry["entry_hash"]


def test_append_returns_the_written_entry(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    entry = log.append(
        requester="gp",
        purpose="diabetes-recall",
        outcome="denied",
        reason="not_permitted",
        time=datetime(2026, 11, 3, 10, 0, tzinfo=timezone(timedelta(hours=1))),
    )
    assert entry.seq == 1 and entry.prev_hash == GENESIS_HASH
    assert entry.time == "2026-11-03T09:00:00.000Z"  # converted to UTC
    assert json.loads(lines_of(tmp_path / "a.jsonl")[0]) == entry.to_dict()


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    five_entries(tmp_path / "a.jsonl")
    five_entries(tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_edit_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    assert '"count_released":31' in lines[2]
    lines[2] = lines[2].replace('"count_released":31', '"count_released":3')
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(
        False, 2, 3, "line 3: entry seq 3 does not match its entry_hash (the entry was edited)"
    )


def test_edit_with_recomputed_hash_breaks_the_next_link(log_path: Path) -> None:
    lines = lines_of(log_path)
    entry = json.loads(lines[2])
    entry["count_released"] = 3
    body = {k: v for k, v in entry.items() if k != "entry_hash"}
    entry["entry_hash"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    lines[2] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(
        False,
        3,
        4,
        "line 4: prev_hash does not match entry 3 (entry 3 was altered, or entries were deleted, inserted or reordered)",
    )


def test_delete_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    del lines[2]
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(
        False, 2, 3, "line 3: seq is 4, expected 3 (an entry was deleted, inserted or reordered)"
    )


def test_insert_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    lines.insert(2, lines[1])  # line 2 duplicated as line 3
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(
        False, 2, 3, "line 3: seq is 2, expected 3 (an entry was deleted, inserted or reordered)"
    )


def test_reorder_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    lines[1], lines[2] = lines[2], lines[1]
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(
        False, 1, 2, "line 2: seq is 3, expected 2 (an entry was deleted, inserted or reordered)"
    )


def test_truncated_last_line_is_named(log_path: Path) -> None:
    data = log_path.read_bytes()
    log_path.write_bytes(data[: len(data) - 40])
    assert verify(log_path) == VerifyResult(
        False, 4, 5, "line 5: the last line is incomplete (truncated or interrupted write)"
    )


def test_garbled_last_line_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    lines[4] = lines[4][:30] + "\n"
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(False, 4, 5, "line 5: not a valid JSON entry (garbled)")


def test_blank_line_is_named(log_path: Path) -> None:
    lines = lines_of(log_path)
    lines.insert(1, "\n")
    rewrite(log_path, lines)
    assert verify(log_path) == VerifyResult(False, 1, 2, "line 2: not a valid JSON entry (garbled)")


def test_append_refuses_a_damaged_tail(log_path: Path) -> None:
    log_path.write_bytes(log_path.read_bytes()[:-10])
    damaged = log_path.read_bytes()
    with pytest.raises(AuditError, match="the last line of the audit log is incomplete"):
        AuditLog(log_path).append(requester="gp", purpose="p", outcome="denied", reason="x")
    assert log_path.read_bytes() == damaged  # nothing appended


def test_append_refuses_an_altered_last_entry(log_path: Path) -> None:
    lines = lines_of(log_path)
    lines[4] = lines[4].replace('"count_released":40', '"count_released":4')
    rewrite(log_path, lines)
    with pytest.raises(AuditError, match="the last entry of the audit log is damaged or altered"):
        AuditLog(log_path).append(requester="gp", purpose="p", outcome="denied", reason="x")


def test_head_and_anchors(log_path: Path) -> None:
    log = AuditLog(log_path)
    head = log.head()
    assert head == Head(5, json.loads(lines_of(log_path)[4])["entry_hash"])
    assert Head.parse(str(head)) == head
    assert AuditLog(log_path.parent / "none.jsonl").head() == Head(0, GENESIS_HASH)
    assert log.verify([head]).ok
    # Removing the last entry leaves a valid chain: only the published anchor catches it.
    rewrite(log_path, lines_of(log_path)[:4])
    assert verify(log_path).ok
    assert verify(log_path, [head]) == VerifyResult(
        False,
        4,
        5,
        "line 5: the log ends at seq 4 but an anchor was published for seq 5 (entries were removed from the end)",
    )


def test_anchor_catches_a_rewritten_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    head = five_entries(path).head()
    path.unlink()
    log = AuditLog(path, clock=ticking_clock())
    for _ in range(5):
        log.append(requester="someone-else", purpose="p", outcome="denied", reason="x")
    assert verify(path).ok
    assert verify(path, [head]) == VerifyResult(
        False, 4, 5, "line 5: entry seq 5 differs from its published anchor (the log was rewritten)"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "patient 9990001234 deceased"),
        ("reason", "999 000 1234"),
        ("reason", "999-000-1234"),
        ("requester", "9990001234"),
        ("cohort", "x9990001234"),
        ("practice", "9990001234"),
        ("purpose", "9990001234"),
    ],
)
def test_refuses_values_that_look_like_nhs_numbers(tmp_path: Path, field: str, value: str) -> None:
    path = tmp_path / "a.jsonl"
    kwargs: dict[str, object] = {"requester": "gp", "purpose": "p", "outcome": "denied", "reason": "x"}
    kwargs[field] = value
    with pytest.raises(AuditValueError) as caught:
        AuditLog(path).append(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == f"{field} contains a 10-digit number (looks like an NHS number); refused"
    assert "1234" not in str(caught.value)
    assert not path.exists()


def test_refuses_a_ten_digit_count(tmp_path: Path) -> None:
    with pytest.raises(AuditValueError, match="count_released is a 10-digit number"):
        AuditLog(tmp_path / "a.jsonl").append(
            requester="gp", purpose="p", outcome="granted", count_released=9990001234, output_sha256=SHA
        )


def test_allows_dates_and_other_numbers(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", clock=ticking_clock())
    log.append(
        requester="gp", purpose="p", outcome="denied", reason="cohort built 2026-10-01 is stale (36 days)"
    )
    log.append(requester="gp", purpose="p", outcome="denied", reason="ref 12345678901")  # 11 digits
    assert verify(tmp_path / "a.jsonl").entries == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcome": "denied"}, "reason is required"),
        ({"outcome": "denied", "reason": "x", "count_released": 3}, "a denied request releases nothing"),
        ({"outcome": "granted", "count_released": 3}, "a granted request needs the output_sha256"),
        ({"outcome": "granted", "output_sha256": "ABC"}, "output_sha256 must be 64 lower-case hex digits"),
        ({"outcome": "maybe"}, "outcome must be 'granted' or 'denied'"),
        (
            {"outcome": "granted", "output_sha256": SHA, "count_released": -1},
            "count_released must be a non-negative",
        ),
        ({"outcome": "denied", "reason": "x", "requester": " "}, "requester must be a non-empty string"),
    ],
)
def test_entry_rules(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"requester": "gp", "purpose": "p", **kwargs}
    with pytest.raises(AuditValueError, match=message):
        AuditLog(tmp_path / "a.jsonl").append(**args)  # type: ignore[arg-type]


def test_naive_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditValueError, match="timezone-aware"):
        AuditLog(tmp_path / "a.jsonl").append(
            requester="gp", purpose="p", outcome="denied", reason="x", time=datetime(2026, 11, 3, 9, 0)
        )


def test_file_is_private(log_path: Path) -> None:
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


def test_wider_existing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.touch()
    os.chmod(path, 0o644)
    with pytest.raises(AuditError, match=r"mode 644\); chmod 600 it"):
        AuditLog(path).append(requester="gp", purpose="p", outcome="denied", reason="x")


def test_verify_missing_log(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="audit log not found"):
        verify(tmp_path / "absent.jsonl")


def test_empty_log_verifies(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").touch()
    assert verify(tmp_path / "a.jsonl") == VerifyResult(True, 0, None, None)


def test_concurrent_appends_do_not_interleave(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"

    def worker(name: str) -> None:
        log = AuditLog(path)  # each thread its own file descriptor, as separate processes would have
        for _ in range(25):
            log.append(requester=name, purpose="p", outcome="denied", reason="x")

    threads = [threading.Thread(target=worker, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verify(path) == VerifyResult(True, 100, None, None)


def test_sha256_file(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_bytes(b"nhs_number\n")
    assert sha256_file(tmp_path / "out.csv") == hashlib.sha256(b"nhs_number\n").hexdigest()
