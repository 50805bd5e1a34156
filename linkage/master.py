"""The GP demographic master: who is registered, as the GP record last described them (identifiable).

Built from the `gp_patients` connector output (a full list in the first month, then deltas). The latest
row per NHS number wins; every postcode ever seen for the person is kept in `postcode_history`, because
other services often hold an old address and a stale postcode must still trace.
"""

from __future__ import annotations

import polars as pl

from connectors import normalise as nz
from linkage.keys import name_key, postcode_key

MASTER_COLUMNS: tuple[str, ...] = (
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "practice_code",
    "registration_start",
    "registration_end",
    "date_of_death",
    "extract_date",
    "postcode_history",
)
_OPTIONAL = ("given_name", "family_name", "sex", "postcode", "practice_code", "registration_start",
             "registration_end", "date_of_death")  # fmt: skip
_DATE_COLUMNS = ("date_of_birth", "registration_start", "registration_end", "date_of_death", "extract_date")


def build_master(gp_patients: pl.DataFrame) -> pl.DataFrame:
    """One row per NHS number: the latest GP demographic row (by extract_date, then source_line).

    Names are normalised for matching (upper case, no accents, punctuation or spaces), postcodes to the
    canonical 'AA9A 9AA' form (null when malformed), sex to M/F/U (`linkage.keys`, `connectors.normalise`). `postcode_history` lists every distinct normalised
    postcode seen for the person (current one included), sorted. Rows without an NHS number are ignored.
    """
    missing = {"nhs_number", "date_of_birth", "extract_date"} - set(gp_patients.columns)
    if missing:
        raise ValueError(f"gp_patients lacks required columns: {sorted(missing)}")
    frame = gp_patients.filter(pl.col("nhs_number").is_not_null())
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.String if c not in _DATE_COLUMNS else pl.Date).alias(c)
        for c in _OPTIONAL
        if c not in frame.columns
    )
    order = ["nhs_number", "extract_date"] + (["source_line"] if "source_line" in frame.columns else [])
    frame = frame.with_columns(
        name_key(pl.col("given_name")).alias("given_name"),
        name_key(pl.col("family_name")).alias("family_name"),
        postcode_key(pl.col("postcode")).alias("postcode"),
        nz.sex(pl.col("sex").cast(pl.String)).alias("sex"),
        *(pl.col(c).cast(pl.Date) for c in _DATE_COLUMNS),
    ).sort(order, nulls_last=False, maintain_order=True)
    history = frame.group_by("nhs_number").agg(
        pl.col("postcode").drop_nulls().unique().sort().alias("postcode_history")
    )
    latest = frame.unique(subset="nhs_number", keep="last", maintain_order=True)
    return latest.join(history, on="nhs_number", how="left").select(MASTER_COLUMNS).sort("nhs_number")


def master_postcodes(master: pl.DataFrame) -> pl.DataFrame:
    """(nhs_number, postcode): every postcode the master knows for each person, current and earlier."""
    if "postcode_history" not in master.columns:
        return master.select("nhs_number", "postcode").drop_nulls()
    return (
        master.select("nhs_number", pl.col("postcode_history").alias("postcode"))
        .explode("postcode")
        .drop_nulls()
        .unique(maintain_order=True)
    )
