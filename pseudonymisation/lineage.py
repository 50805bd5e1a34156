"""Keyed lineage: warehouse rows and provider record ids that only the identifiable zone can trace back.

The warehouse must not point back to an identifiable row (issue #14): a landing path plus a line
number, or a provider's episode / attendance / event id, locates the raw record of a person in the
landing files and the provider's own system. De-identification therefore replaces them:

* ``source_file`` + ``source_line`` -> ``source_month`` ('YYYY-MM' of the file: a month, no row) and
  ``row_token`` = ``L-`` + HMAC-SHA256(lineage key, ``source_file \\x1f source_line``) (96 bits);
* every provider record id in ``RECORD_ID_COLUMNS`` -> ``R-`` + HMAC-SHA256(lineage key,
  ``column \\x1f value``) (96 bits). Equal ids give equal tokens, so the duplicate-record checks
  (``unique`` on provider + id), spells grouped by ``spell_id`` and contacts joined to referrals by
  ``referral_id`` work unchanged on the tokens.

The lineage key (``KeyProvider.lineage_key()``) is held in the identifiable zone only. With it an
engineer resolves a row token to its landing file and line (`resolve_row_token`, ``phm lineage
resolve``) by recomputing the tokens of the staged identifiable records; without it the tokens are
opaque. Only *distinct* values are hashed (record ids repeat rarely; row tokens are one per row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

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
        hexes = _hmac_hex(self._key, distinct.cast(pl.Binary).to_list())
        lookup = pl.DataFrame(
            {"value": distinct, "token": pl.Series([prefix + h[:_HEX] for h in hexes], dtype=pl.String)}
        )
        joined = (
            messages.rename("value").to_frame().join(lookup, on="value", how="left", maintain_order="left")
        )
        return joined.get_column("token")

    def row_tokens(self, source_file: pl.Series, source_line: pl.Series) -> pl.Series:
        """``L-{hex}`` per (file, line); null where either is null."""
        messages = pl.select(
            pl.concat_str([source_file, pl.lit(_SEP), source_line.cast(pl.String)])
        ).to_series()
        return self._tokens(messages, "L-").rename("row_token")

    def record_ids(self, column: str, values: pl.Series) -> pl.Series:
        """``R-{hex}`` per record id of ``column`` (namespaced by the column name); nulls stay null."""
        messages = pl.select(pl.lit(column + _SEP) + values.cast(pl.String)).to_series()
        return self._tokens(messages, "R-").rename(column)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace ``source_file``/``source_line`` and record ids in ``frame`` (see the module docstring).

        Columns a frame lacks are skipped; row order and count are preserved.
        """
        cols = set(frame.columns)
        out = frame
        if {"source_file", "source_line"} <= cols:
            out = out.with_columns(
                self.row_tokens(frame["source_file"], frame["source_line"]),
                frame["source_file"].str.extract(_MONTH.pattern, 1).alias("source_month"),
            )
        replaced = [self.record_ids(c, frame[c]) for c in RECORD_ID_COLUMNS if c in cols]
        if replaced:
            out = out.with_columns(replaced)
        return out.drop("source_file", "source_line", strict=False)


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
