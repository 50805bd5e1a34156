"""Keyed lineage: warehouse rows and provider record ids that only the identifiable zone can trace back.

The warehouse must not point back to an identifiable row (issue #14): a landing path plus a line
number, or a provider's episode / attendance / event id, locates the raw record of a person in the
landing files and the provider's own system. De-identification therefore replaces them:

* ``source_file`` + ``source_line`` -> ``source_month`` ('YYYY-MM' of the file: a month, no row) and
  ``row_token`` = ``L-`` + AES-256(file key, ``source_line`` as a 16-byte big-endian block) (96 bits),
  where the file key = HMAC-SHA256(lineage key, ``row \\x1f source_file``). AES under a secret key is a
  pseudorandom permutation, so distinct lines of a file get distinct, unpredictable tokens; one HMAC per
  *file* and one vectorised AES-ECB call over all its lines replace one Python HMAC per row (the row
  tokens were most of de-identification's time at 880,000 people, issue #17);
* every provider record id in ``RECORD_ID_COLUMNS`` -> ``R-`` + HMAC-SHA256(lineage key,
  ``column \\x1f value``) (96 bits). Equal ids give equal tokens, so the duplicate-record checks
  (``unique`` on provider + id), spells grouped by ``spell_id`` and contacts joined to referrals by
  ``referral_id`` work unchanged on the tokens.

The lineage key (``KeyProvider.lineage_key()``) is held in the identifiable zone only. With it an
engineer resolves a row token to its landing file and line (`resolve_row_token`, ``phm lineage
resolve``) by recomputing the tokens of the staged identifiable records; without it the tokens are
opaque. Record ids are hashed once per *distinct* value (spells and referrals repeat); when a column's
values are already distinct (event, attendance ids) they are hashed in place, with no lookup join.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .keys import Key
from .tokens import _hmac_hex

__all__ = [
    "RECORD_ID_COLUMNS",
    "RECORD_ID_PATTERN",
    "ROW_TOKEN_PATTERN",
    "LineageTokeniser",
    "RowLocation",
    "resolve_row_token",
]

#: Provider record ids that reach the warehouse only as keyed tokens (exact canonical column names).
RECORD_ID_COLUMNS: tuple[str, ...] = (
    "event_id",
    "issue_id",
    "spell_id",
    "episode_id",
    "attendance_id",
    "contact_id",
    "referral_id",
    "record_id",
)
ROW_TOKEN_PATTERN = r"^L-[0-9a-f]{24}$"
RECORD_ID_PATTERN = r"^R-[0-9a-f]{24}$"
_HEX = 24
_SEP = "\x1f"
_BLOCK = 16  # bytes in an AES block
# Each byte value -> its two lowercase hex characters, as one little-endian 16-bit word (first char low).
_HEX_PAIRS = np.array([int.from_bytes(f"{b:02x}".encode(), "little") for b in range(256)], dtype="<u2")
# An id that fits one block with its length byte: 0-15 ASCII characters, no NUL (the padding byte).
_SHORT_ID = r"^[\x01-\x7f]{0,15}$"
_MONTH = re.compile(r"(\d{4}-\d{2})\.csv$")


@dataclass(frozen=True)
class RowLocation:
    """Where a row token's record came from: the landing file (relative to landing) and its line."""

    source_file: str
    source_line: int


class LineageTokeniser:
    """The lineage key, ready to tokenise rows and record ids of many frames (build one per load)."""

    __slots__ = ("_key",)

    def __init__(self, key: Key) -> None:
        if not isinstance(key, Key) or key.purpose != "lineage":
            raise TypeError("a lineage-purpose Key is required (KeyProvider.lineage_key())")
        self._key = key.material

    def __repr__(self) -> str:
        return "LineageTokeniser()"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("LineageTokeniser objects hold key material and cannot be pickled")

    def _tokens(self, messages: pl.Series, prefix: str) -> pl.Series:
        distinct = messages.drop_nulls().unique()
        if distinct.len() == messages.len():  # no null and no repeat: hash in place, no lookup join
            hexes = _hmac_hex(self._key, messages.cast(pl.Binary).to_list())
            return pl.Series([prefix + h[:_HEX] for h in hexes], dtype=pl.String)
        hexes = _hmac_hex(self._key, distinct.cast(pl.Binary).to_list())
        lookup = pl.DataFrame(
            {"value": distinct, "token": pl.Series([prefix + h[:_HEX] for h in hexes], dtype=pl.String)}
        )
        joined = (
            messages.rename("value").to_frame().join(lookup, on="value", how="left", maintain_order="left")
        )
        return joined.get_column("token")

    def _subkey(self, label: str, name: str) -> bytes:
        """An AES-256 key for one file's lines or one record-id column, derived from the lineage key."""
        return hmac.digest(self._key, (label + _SEP + name).encode("utf-8"), "sha256")

    def row_tokens(self, source_file: pl.Series, source_line: pl.Series) -> pl.Series:
        """``L-{hex}`` per (file, line); null where either is null."""
        frame = pl.DataFrame({"file": source_file, "line": source_line.cast(pl.Int64)}).with_row_index("_row")
        known = frame.filter(pl.col("file").is_not_null() & pl.col("line").is_not_null())
        if known.filter(pl.col("line") < 0).height:
            raise ValueError("source_line must be a non-negative line number")
        raw = np.zeros((frame.height, _HEX // 2), dtype=np.uint8)
        for (name,), rows in known.group_by("file", maintain_order=True):
            blocks = np.zeros((rows.height, _BLOCK), dtype=np.uint8)
            blocks[:, 8:] = rows["line"].to_numpy().astype(">u8").view(np.uint8).reshape(-1, 8)
            raw[rows["_row"].to_numpy()] = _encipher(self._subkey("row", str(name)), blocks)
        present = frame["file"].is_not_null() & frame["line"].is_not_null()
        return _hex_tokens(raw, "L-", present).rename("row_token")

    def record_ids(self, column: str, values: pl.Series) -> pl.Series:
        """``R-{hex}`` per record id of ``column`` (namespaced by the column name); nulls stay null.

        An ASCII id of at most 15 bytes (every feed's ids here) is one AES block under the column's key:
        its length byte, the id, zero padding (an injective encoding, so distinct ids never share a
        token). A longer id is HMAC'd with the column name, once per distinct value.
        """
        text = values.cast(pl.String)
        short = text.str.contains(_SHORT_ID).fill_null(False)
        every = bool(short.all())  # the usual case: no null, no long id, so no filter and no scatter
        raw = np.zeros((text.len(), _HEX // 2), dtype=np.uint8)
        ids = text if every else text.filter(short)
        if ids.len():
            blocks = np.zeros((ids.len(), _BLOCK), dtype=np.uint8)
            blocks[:, 0] = ids.str.len_bytes().to_numpy()
            blocks[:, 1:] = _fixed_width_bytes(ids.str.pad_end(_BLOCK - 1, "\0"), _BLOCK - 1)
            enciphered = _encipher(self._subkey("id", column), blocks)
            if every:
                raw = enciphered
            else:
                raw[short.arg_true().to_numpy()] = enciphered
        tokens = _hex_tokens(raw, "R-", short)
        long = text.is_not_null() & ~short
        if long.any():
            messages = pl.select(pl.when(long).then(pl.lit(column + _SEP) + text)).to_series()
            tokens = pl.select(pl.when(long).then(self._tokens(messages, "R-")).otherwise(tokens)).to_series()
        return tokens.rename(column)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace ``source_file``/``source_line`` and record ids in ``frame`` (see the module docstring).

        Columns a frame lacks are skipped; row order and count are preserved.
        """
        cols = set(frame.columns)
        out = frame
        if {"source_file", "source_line"} <= cols:
            out = out.with_columns(
                self.row_tokens(frame["source_file"], frame["source_line"]),
                _per_distinct(frame["source_file"], lambda files: files.str.extract(_MONTH.pattern, 1)).alias(
                    "source_month"
                ),
            )
        replaced = [self.record_ids(c, frame[c]) for c in RECORD_ID_COLUMNS if c in cols]
        if replaced:
            out = out.with_columns(replaced)
        return out.drop("source_file", "source_line", strict=False)


def _per_distinct(values: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``fn`` (a String -> String map) on each distinct value only, mapped back row by row: a file's
    rows share one ``source_file``, so this is one regular expression per file instead of per row."""
    distinct = values.drop_nulls().unique()
    return values.replace_strict(distinct, fn(distinct), default=None, return_dtype=pl.String)


def _encipher(key: bytes, blocks: np.ndarray) -> np.ndarray:
    """The first 96 bits of AES-256 of each 16-byte row of ``blocks``: a keyed pseudorandom permutation.

    ECB is right here: every block is a distinct message enciphered on its own (no chaining, no
    repeats within a call that matter: equal messages are meant to get equal tokens).
    """
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    cipher = np.frombuffer(encryptor.update(blocks.tobytes()) + encryptor.finalize(), dtype=np.uint8)
    return cipher.reshape(-1, _BLOCK)[:, : _HEX // 2]


def _fixed_width_bytes(values: pl.Series, width: int) -> np.ndarray:
    """The bytes of ``values`` (no nulls, every value exactly ``width`` bytes) as an (n, width) array.

    Read straight from the Arrow data buffer: no Python object per value.
    """
    array = values.to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string: int64 offsets + data
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(-1, width)


def _hex_tokens(raw: np.ndarray, prefix: str, present: pl.Series) -> pl.Series:
    """``prefix`` + lowercase hex of each row of ``raw`` where ``present``, else null (vectorised).

    Each byte becomes its two hex characters by one table lookup, and the fixed-width text goes into an
    Arrow string array as its data buffer (offsets every width bytes): no Python object per value, and
    never numpy's ``S`` view of the raw bytes, which drops trailing zero bytes.
    """
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    rows, width = raw.shape[0], head.size + 2 * raw.shape[1]
    text = np.empty((rows, width), dtype=np.uint8)
    text[:, : head.size] = head
    text[:, head.size :] = _HEX_PAIRS[raw].view(np.uint8).reshape(rows, width - head.size)
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(text))
    tokens = pl.Series("token", array, dtype=pl.String)
    return tokens if bool(present.all()) else pl.select(pl.when(present).then(tokens)).to_series()


def resolve_row_token(
    staged_files: list[Path], tokeniser: LineageTokeniser, token: str
) -> RowLocation | None:
    """The landing file and line of ``token``, found by recomputing the row tokens of the staged
    identifiable records (identifiable zone only); None if no staged row has it."""
    if not re.fullmatch(ROW_TOKEN_PATTERN, token):
        raise ValueError("not a row token (expected L- and 24 lowercase hex digits)")
    for path in staged_files:
        rows = pl.read_parquet(path, columns=["source_file", "source_line"])
        tokens = tokeniser.row_tokens(rows["source_file"], rows["source_line"])
        hits = tokens.eq(token).arg_true()
        if hits.len():
            i = int(hits[0])
            return RowLocation(str(rows["source_file"][i]), int(rows["source_line"][i]))
    return None
