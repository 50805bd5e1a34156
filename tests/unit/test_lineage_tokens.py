"""Keyed lineage tokens: the documented construction, exactly; distinct rows and ids stay distinct.

The expected tokens are recomputed here from the module docstring's definition with `hmac` and
`cryptography` directly, so a change of construction (which would orphan every stored row token) fails.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pseudonymisation.keys import Key
from pseudonymisation.lineage import ROW_TOKEN_PATTERN, LineageTokeniser

MATERIAL = hashlib.sha256(b"lineage-test-key").digest()


def _aes96(key: bytes, block: bytes) -> str:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (encryptor.update(block) + encryptor.finalize())[:12].hex()


def _expected_row(file: str, line: int) -> str:
    file_key = hmac.digest(MATERIAL, b"row\x1f" + file.encode(), "sha256")
    return "L-" + _aes96(file_key, line.to_bytes(16, "big"))


def _expected_id(column: str, value: str) -> str:
    raw = value.encode()
    if len(raw) <= 15:
        column_key = hmac.digest(MATERIAL, b"id\x1f" + column.encode(), "sha256")
        return "R-" + _aes96(column_key, bytes([len(raw)]) + raw.ljust(15, b"\0"))
    return "R-" + hmac.digest(MATERIAL, column.encode() + b"\x1f" + raw, "sha256")[:12].hex()


@pytest.fixture
def lineage() -> LineageTokeniser:
    return LineageTokeniser(Key(purpose="lineage", version=1, material=MATERIAL))


def test_row_tokens_follow_the_documented_construction_and_keep_nulls(lineage: LineageTokeniser) -> None:
    files = pl.Series(["gp/gp_events_2025-01.csv", None, "gp/gp_events_2025-01.csv", "sus/apc_2025-01.csv"])
    lines = pl.Series([2, 3, None, 2])
    assert lineage.row_tokens(files, lines).to_list() == [
        _expected_row("gp/gp_events_2025-01.csv", 2),
        None,
        None,
        _expected_row("sus/apc_2025-01.csv", 2),
    ]


def test_every_line_of_a_large_file_gets_its_own_token(lineage: LineageTokeniser) -> None:
    n = 200_000
    tokens = lineage.row_tokens(pl.Series(["a.csv"] * n), pl.Series(range(2, n + 2)))
    assert tokens.n_unique() == n
    assert tokens.str.contains(ROW_TOKEN_PATTERN).all()
    # The same line in another file is another token: the file key separates files.
    other = lineage.row_tokens(pl.Series(["b.csv"] * 3), pl.Series([2, 3, 4]))
    assert set(other.to_list()).isdisjoint(tokens.to_list())


def test_a_negative_line_number_is_refused(lineage: LineageTokeniser) -> None:
    with pytest.raises(ValueError, match="non-negative line number"):
        lineage.row_tokens(pl.Series(["a.csv"]), pl.Series([-1]))


def test_record_ids_short_and_long_are_equal_for_equal_ids_and_namespaced_by_column(
    lineage: LineageTokeniser,
) -> None:
    values = ["GPE000000001", None, "GPE000000001", "X" * 15, "ABCDEFGHIJ0123456789", "É1", ""]
    got = lineage.record_ids("event_id", pl.Series(values)).to_list()
    # "É1" is not ASCII, so it takes the HMAC route like an id of 16 bytes or more.
    expected = [_expected_id("event_id", v) if v is not None else None for v in values[:5]]
    assert got[:5] == expected
    assert got[5] == "R-" + hmac.digest(MATERIAL, "event_id\x1fÉ1".encode(), "sha256")[:12].hex()
    assert got[6] == _expected_id("event_id", "")
    assert got[0] == got[2]
    assert len({t for t in got if t is not None}) == 5
    # The same id under another column is another token.
    assert lineage.record_ids("spell_id", pl.Series(["GPE000000001"])).item() != got[0]


def test_apply_replaces_the_back_links_and_keeps_rows(lineage: LineageTokeniser) -> None:
    frame = pl.DataFrame(
        {
            "source_file": ["sus/apc_2025-03.csv", "sus/apc_2025-03.csv"],
            "source_line": [2, 3],
            "spell_id": ["SPL01", "SPL01"],
            "episode_id": ["EPI01", "EPI02"],
            "los": [1, 2],
        }
    )
    out = lineage.apply(frame)
    assert out.columns == ["spell_id", "episode_id", "los", "row_token", "source_month"]
    assert out["source_month"].to_list() == ["2025-03", "2025-03"]
    assert out["row_token"].to_list() == [_expected_row("sus/apc_2025-03.csv", i) for i in (2, 3)]
    assert out["spell_id"].to_list() == [_expected_id("spell_id", "SPL01")] * 2
    assert out["episode_id"].to_list() == [_expected_id("episode_id", v) for v in ("EPI01", "EPI02")]


def test_record_ids_all_short_are_one_block_each_in_row_order(lineage: LineageTokeniser) -> None:
    # Every id short and none null: the whole column is enciphered at once (no scatter by row).
    values = ["AE00000002", "", "X" * 15, "AE00000001", "AE00000002"]
    got = lineage.record_ids("attendance_id", pl.Series(values))
    assert got.name == "attendance_id"
    assert got.to_list() == [_expected_id("attendance_id", v) for v in values]


def test_source_month_is_each_rows_file_month(lineage: LineageTokeniser) -> None:
    files = ["sus/apc_2025-03.csv", "sus/apc_2025-04.csv", None, "sus/apc_2025-03.csv", "sus/apc.csv"]
    frame = pl.DataFrame({"source_file": files, "source_line": [2, 2, 3, 3, 4]})
    out = lineage.apply(frame)
    assert out["source_month"].to_list() == ["2025-03", "2025-04", None, "2025-03", None]
    assert out["row_token"].to_list() == [
        _expected_row("sus/apc_2025-03.csv", 2), _expected_row("sus/apc_2025-04.csv", 2), None,
        _expected_row("sus/apc_2025-03.csv", 3), _expected_row("sus/apc.csv", 4),
    ]  # fmt: skip


def test_an_empty_frame_keeps_its_columns_and_gets_no_rows(lineage: LineageTokeniser) -> None:
    frame = pl.DataFrame(schema={"source_file": pl.String, "source_line": pl.Int64, "event_id": pl.String})
    out = lineage.apply(frame)
    assert out.schema == pl.Schema({"event_id": pl.String, "row_token": pl.String, "source_month": pl.String})
    assert out.height == 0
