"""Turn a canonical identifiable record frame into its pseudonymised form for the warehouse.

Adds ``person_token`` (token of the NHS number, else an existing ``pseudo_id``), generalises date of
birth to ``birth_year_month`` ('YYYY-MM'), date of death to ``death_year_month`` and postcode to
``lsoa21`` (LSOA 2021 code), then drops every column in ``IDENTIFIABLE_COLUMNS`` (and ``pseudo_id``, now
in ``person_token``). With a `LineageTokeniser` it also removes the back-links to the landing row:
``source_file``/``source_line`` become ``source_month`` and a keyed ``row_token``, and provider record
ids become keyed tokens (``lineage.py``). This is the last step before the warehouse: what it does not
drop reaches analysts.
"""

from __future__ import annotations

import polars as pl

from connectors.normalise import postcode

from .lineage import LineageTokeniser
from .lookups import LsoaLookup, TokenMap
from .tokens import Tokeniser

__all__ = ["IDENTIFIABLE_COLUMNS", "deidentify"]

IDENTIFIABLE_COLUMNS: tuple[str, ...] = (
    "nhs_number",
    "given_name",
    "middle_names",
    "family_name",
    "full_name",
    "date_of_birth",
    "date_of_death",
    "postcode",
    "address",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "telephone",
    "email",
)


def _year_month(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    if not (dtype == pl.Date or isinstance(dtype, pl.Datetime)):
        raise TypeError(f"{column} must be a Date (or Datetime) column, got {dtype}")
    return pl.col(column).dt.strftime("%Y-%m")


def _with_lsoa(frame: pl.DataFrame, lookup: pl.DataFrame) -> pl.DataFrame:
    """Add `_lsoa21` by postcode. Connectors already normalise postcodes, so rows are joined on the value
    as it is and only the few that miss are normalised and tried again (same result, far less work)."""
    frame = frame.with_row_index("_r")
    direct = frame.select("_r", pl.col("postcode").alias("_pc")).join(lookup, on="_pc", how="left")
    retry = direct.filter(pl.col("_lsoa21").is_null() & pl.col("_pc").is_not_null()).select(
        "_r", postcode(pl.col("_pc")).alias("_pc")
    )
    found = direct.filter(pl.col("_lsoa21").is_not_null()).select("_r", "_lsoa21")
    if retry.height:
        found = pl.concat([found, retry.join(lookup, on="_pc", how="inner").select("_r", "_lsoa21")])
    return frame.join(found, on="_r", how="left", maintain_order="left").drop("_r")


def deidentify(
    frame: pl.DataFrame,
    tokeniser: Tokeniser,
    postcode_lsoa: pl.DataFrame | LsoaLookup | None = None,
    *,
    token_map: pl.DataFrame | TokenMap | None = None,
    lineage: LineageTokeniser | None = None,
) -> pl.DataFrame:
    """Pseudonymise a record frame: add token and generalised fields, drop identifiable columns.

    * ``person_token`` = token(nhs_number), falling back to ``pseudo_id`` where the NHS number is null;
    * ``birth_year_month`` from ``date_of_birth``, ``death_year_month`` from ``date_of_death``;
    * ``lsoa21`` from ``postcode`` via ``postcode_lsoa`` (columns ``postcode``, ``lsoa21cd``); an existing
      ``lsoa21`` value wins. Raises if there is a postcode but neither a lookup nor an ``lsoa21`` column.

    ``token_map`` (nhs_number, person_token), when given, supplies the tokens by a lookup instead of
    computing HMACs again for every file: build it once per load with ``tokeniser.tokenise`` over the
    distinct NHS numbers. A number missing from the map is still tokenised here. A caller that
    de-identifies many files passes both lookups prepared once (`TokenMap`, `LsoaLookup`).

    ``lineage``, when given, replaces ``source_file``/``source_line`` and provider record ids with keyed
    tokens (`LineageTokeniser.apply`); the load always passes it, so no staged pseudonymised file points
    back to a landing row.

    Row order and count are preserved.
    """
    cols = set(frame.columns)
    out = frame
    token_parts: list[pl.Expr] = []
    if "nhs_number" in cols and token_map is not None:
        mapped = token_map if isinstance(token_map, TokenMap) else TokenMap(token_map)
        out = out.with_columns(mapped.tokens(out.get_column("nhs_number")).alias("_mapped"))
        unmapped = out.filter(pl.col("_mapped").is_null() & pl.col("nhs_number").is_not_null())
        if unmapped.height:
            out = out.with_columns(
                pl.coalesce("_mapped", tokeniser.tokenise(out.get_column("nhs_number"))).alias("_token")
            )
        else:
            out = out.with_columns(pl.col("_mapped").alias("_token"))
        out = out.drop("_mapped")
        token_parts.append(pl.col("_token"))
    elif "nhs_number" in cols:
        out = out.with_columns(tokeniser.tokenise(out.get_column("nhs_number")).alias("_token"))
        token_parts.append(pl.col("_token"))
    if "pseudo_id" in cols:
        token_parts.append(pl.col("pseudo_id"))
    if token_parts:
        out = out.with_columns(pl.coalesce(token_parts).alias("person_token"))
    if "date_of_birth" in cols:
        out = out.with_columns(_year_month(frame, "date_of_birth").alias("birth_year_month"))
    if "date_of_death" in cols:
        out = out.with_columns(_year_month(frame, "date_of_death").alias("death_year_month"))
    if "postcode" in cols:
        if postcode_lsoa is None:
            if "lsoa21" not in cols:
                raise ValueError("frame has postcode but no postcode_lsoa lookup was given to derive lsoa21")
        else:
            lookup = postcode_lsoa if isinstance(postcode_lsoa, LsoaLookup) else LsoaLookup(postcode_lsoa)
            out = _with_lsoa(out, lookup.frame)
            existing = [pl.col("lsoa21")] if "lsoa21" in cols else []
            out = out.with_columns(pl.coalesce([*existing, pl.col("_lsoa21")]).alias("lsoa21"))
    # pseudo_id has become person_token; a second copy would escape key rotation (which rewrites tokens).
    drop = [
        c for c in out.columns if c in IDENTIFIABLE_COLUMNS or c in {"pseudo_id", "_token", "_pc", "_lsoa21"}
    ]
    out = out.drop(drop)
    if lineage is not None:
        out = lineage.apply(out)
    if "person_token" in out.columns:
        out = out.select("person_token", pl.exclude("person_token"))
    return out
