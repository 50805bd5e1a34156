"""The GP master's names as keyed digests, for the warehouse's publish-time identifier scan.

The scan (``linkage/warehouse/identifier_scan.py``) must recognise a person's name planted in any text
column, but the pseudonymised side should not hold a list of names in the clear. So the identifiable
zone reads the names once, keeps only HMAC-SHA256 digests of them under a key made for this one build
(never written anywhere, gone with the process), and hands over the digests and the key: the scan can
test "is this word one of the names?" and nothing can list the names back.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

import polars as pl

__all__ = ["MIN_NAME_LETTERS", "NameDigests", "name_word"]

#: Shorter words (initials, sex and ethnicity codes) are never treated as names.
MIN_NAME_LETTERS = 2
_DIGEST_BYTES = 16


def name_word(expr: pl.Expr) -> pl.Expr:
    """A name as the GP master keys it: upper case, accents stripped, only A-Z kept."""
    return expr.cast(pl.String).str.normalize("NFKD").str.to_uppercase().str.replace_all(r"[^A-Z]", "")


class NameDigests:
    """Keyed digests of a set of names; ``word in digests`` tests membership of one normalised word."""

    __slots__ = ("_digests", "_key")

    def __init__(self, names: pl.Series) -> None:
        self._key = secrets.token_bytes(32)
        words = pl.select(name_word(pl.lit(names))).to_series().drop_nulls().unique()
        self._digests = frozenset(self._digest(w) for w in words.to_list() if len(w) >= MIN_NAME_LETTERS)

    @classmethod
    def from_gp_master(cls, path: Path) -> NameDigests:
        """Digests of every given and family name in the GP master parquet (empty if there is none)."""
        if not path.exists():
            return cls(pl.Series([], dtype=pl.String))
        frame = pl.read_parquet(path)
        columns = [c for c in ("given_name", "family_name") if c in frame.columns]
        names = (
            pl.concat([frame[c].cast(pl.String) for c in columns])
            if columns
            else pl.Series([], dtype=pl.String)
        )
        return cls(names)

    def _digest(self, word: str) -> bytes:
        return hmac.digest(self._key, word.encode("utf-8"), "sha256")[:_DIGEST_BYTES]

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and len(word) >= MIN_NAME_LETTERS and self._digest(word) in self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"NameDigests({len(self)} names)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("NameDigests hold a key and cannot be pickled")
