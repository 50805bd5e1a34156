"""The two lookups de-identification applies to every file of a load, prepared once per load.

`deidentify` runs once per staged file (hundreds per load). Preparing its lookups inside it repeated
work that depends only on the load: hashing the whole token map into a join table for every file
(the cost grew with files x people), and normalising every postcode of the postcode -> LSOA reference.
A `TokenMap` keeps the map's NHS numbers as a sorted integer array and finds each row's token by binary
search (no hash table to build per file); a `LsoaLookup` holds the normalised reference.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from connectors.normalise import postcode

__all__ = ["LsoaLookup", "TokenMap", "nhs_key"]


def nhs_key(nhs_number: pl.Expr) -> pl.Expr:
    """A 10-digit NHS number as an integer key; anything else (never in a token map) gives null."""
    return pl.when(nhs_number.str.contains(r"^\d{10}$")).then(nhs_number.cast(pl.Int64, strict=False))


class TokenMap:
    """A load's (nhs_number, person_token) map, ready to look tokens up for many files.

    Numbers are held as sorted Int64 (10 digits fit), so a file's tokens are one vectorised binary
    search and one gather: the same result as a left join on the number, at a cost that grows with the
    file, not with the map.
    """

    __slots__ = ("_keys", "_tokens")

    def __init__(self, token_map: pl.DataFrame) -> None:
        prepared = (
            token_map.select(nhs_key(pl.col("nhs_number")).alias("key"), pl.col("person_token"))
            .drop_nulls("key")
            .unique("key", keep="first", maintain_order=True)
            .sort("key")
        )
        self._keys = prepared.get_column("key").to_numpy()
        self._tokens = prepared.get_column("person_token")

    def __len__(self) -> int:
        return len(self._keys)

    def tokens(self, nhs_numbers: pl.Series) -> pl.Series:
        """The mapped token of each number, null where the number is null, malformed or not in the map."""
        keys = nhs_numbers.to_frame("n").select(nhs_key(pl.col("n"))).to_series()
        if not len(self._keys):
            return pl.Series(nhs_numbers.name, [None] * len(nhs_numbers), dtype=pl.String)
        wanted = keys.fill_null(-1).to_numpy()
        at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        hit = pl.Series(self._keys[at] == wanted) & keys.is_not_null()
        found = self._tokens.gather(at)
        return pl.select(pl.when(hit).then(found)).to_series().rename(nhs_numbers.name)


class LsoaLookup:
    """The postcode -> LSOA 2021 reference with postcodes normalised, for `deidentify`'s joins.

    Raises ``ValueError`` when a column is missing or a postcode maps to more than one LSOA (it would
    duplicate records in the join; the reference must be fixed upstream).
    """

    __slots__ = ("frame",)

    def __init__(self, postcode_lsoa: pl.DataFrame) -> None:
        missing = {"postcode", "lsoa21cd"} - set(postcode_lsoa.columns)
        if missing:
            raise ValueError(f"postcode_lsoa lookup lacks column(s) {sorted(missing)}")
        lookup = (
            postcode_lsoa.select(
                postcode(pl.col("postcode")).alias("_pc"), pl.col("lsoa21cd").alias("_lsoa21")
            )
            .drop_nulls("_pc")
            .unique()
        )
        if lookup.get_column("_pc").n_unique() != lookup.height:
            raise ValueError("postcode_lsoa maps some postcodes to more than one LSOA")
        self.frame = lookup
