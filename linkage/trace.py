"""Tracing: give records that arrived without a valid NHS number one from the GP demographic master.

Identifiable zone. Modelled on the staged tracing of the NHS England Master Person Service: the most
specific deterministic key first, each pass accepting a candidate only when the key points to exactly
one person in the master (an ambiguous key is never guessed, it is counted). Passes are data
(`TracePass`), and the engine only needs the `Tracer` protocol, so a probabilistic pass (e.g. Splink)
slots in as another element of `passes`.

Nothing here writes row values to logs or exceptions; stats are counts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import polars as pl

from linkage.keys import name_key, postcode_key, sex_key
from linkage.master import master_postcodes

ROW_IDX = "row_idx"
KEY_COLUMNS: tuple[str, ...] = ("given_name", "family_name", "date_of_birth", "sex", "postcode")
# Columns holding a persistent local person id (asc_cld's council id): unmatched rows keyed on it.
LOCAL_ID_COLUMNS: tuple[str, ...] = ("la_person_id",)
PSEUDO_KEY_FIELDS: tuple[str, ...] = ("date_of_birth", "sex", "postcode", "given_name", "family_name")
NHS_NUMBER = "nhs_number"
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class PassResult:
    """What one pass found: `matches` (row_idx u32, nhs_number str, confidence f64) and ambiguous rows."""

    matches: pl.DataFrame
    ambiguous: int


class Tracer(Protocol):
    """A trace pass. `unmatched` holds row_idx plus the normalised KEY_COLUMNS the source has."""

    @property
    def name(self) -> str: ...

    def required_columns(self) -> frozenset[str]: ...

    def match(self, unmatched: pl.DataFrame, master: pl.DataFrame) -> PassResult: ...


@dataclass(frozen=True)
class TracePass:
    """A deterministic pass: exact equality on `keys`, accepted only if unique in the master."""

    name: str
    keys: tuple[str, ...]
    confidence: float

    def required_columns(self) -> frozenset[str]:
        return frozenset(self.keys)

    def match(self, unmatched: pl.DataFrame, master: pl.DataFrame) -> PassResult:
        keys = list(self.keys)
        index = _master_index(master, keys)
        candidates = unmatched.select(ROW_IDX, *keys).drop_nulls(keys)
        index = index.join(candidates.select(keys).unique(), on=keys, how="semi")
        per_key = index.group_by(keys).agg(
            pl.col(NHS_NUMBER).n_unique().alias("_n"), pl.col(NHS_NUMBER).first()
        )
        hits = candidates.join(per_key, on=keys, how="inner")
        unique = hits.filter(pl.col("_n") == 1)
        return PassResult(
            matches=unique.select(
                pl.col(ROW_IDX), pl.col(NHS_NUMBER), pl.lit(self.confidence, pl.Float64).alias("confidence")
            ),
            ambiguous=hits.height - unique.height,
        )


DEFAULT_PASSES: tuple[Tracer, ...] = (
    TracePass("exact_name_dob_postcode", ("given_name", "family_name", "date_of_birth", "postcode"), 0.99),
    TracePass("exact_name_dob", ("given_name", "family_name", "date_of_birth"), 0.95),
    TracePass("exact_dob_sex_postcode", ("date_of_birth", "sex", "postcode"), 0.9),
)


@dataclass(frozen=True)
class TraceStats:
    """Counts only: rows per link method, ambiguous rows per pass, passes skipped for missing columns."""

    rows: dict[str, int] = field(default_factory=dict)
    ambiguous: dict[str, int] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()


class TraceResult(NamedTuple):
    frame: pl.DataFrame
    stats: TraceStats


def trace(
    records: pl.DataFrame,
    master: pl.DataFrame,
    *,
    passes: Sequence[Tracer] = DEFAULT_PASSES,
    namespace: str,
    local_id: str | None = None,
) -> TraceResult:
    """Fill `nhs_number` where null by running `passes` in order against the GP master.

    Adds `link_method` ('nhs_number', a pass name, or 'unmatched'), `link_confidence` (1.0, the pass's
    confidence, or 0.0) and `pseudo_key`: for unmatched rows a stable local key the pseudonymisation
    step turns into a persistent `U` id — `namespace:<local id>` when the source has a persistent local
    person id (`local_id`, default: the first of LOCAL_ID_COLUMNS present), else
    `namespace:<dob>|<sex>|<postcode>|<given>|<family>` from normalised values. It is identifiable
    and must not leave this zone unhashed. Rows keep their order; a pass is skipped when the records
    lack one of its columns.
    """
    if ROW_IDX in records.columns:
        raise ValueError(f"records must not contain a column named {ROW_IDX!r}")
    frame = records.with_row_index(ROW_IDX)
    if NHS_NUMBER not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(NHS_NUMBER))
    keys = _record_keys(frame.filter(pl.col(NHS_NUMBER).is_null()))
    available = set(keys.columns)

    found: list[pl.DataFrame] = []
    ambiguous: dict[str, int] = {}
    skipped: list[str] = []
    remaining = keys
    for tracer in passes:
        if not tracer.required_columns() <= available:
            skipped.append(tracer.name)
            continue
        result = tracer.match(remaining, master) if remaining.height else PassResult(_EMPTY, 0)
        ambiguous[tracer.name] = result.ambiguous
        matches = result.matches.select(
            pl.col(ROW_IDX).cast(pl.UInt32),
            pl.col(NHS_NUMBER).cast(pl.String).alias("_traced"),
            pl.col("confidence").cast(pl.Float64),
            pl.lit(tracer.name).alias("_method"),
        )
        found.append(matches)
        remaining = remaining.join(matches.select(ROW_IDX), on=ROW_IDX, how="anti")

    traced = pl.concat(found) if found else _EMPTY_TRACED
    out = frame.join(traced, on=ROW_IDX, how="left").sort(ROW_IDX)
    had_number = pl.col(NHS_NUMBER).is_not_null()
    out = out.with_columns(
        pl.when(had_number).then(pl.lit(NHS_NUMBER)).otherwise(pl.col("_method").fill_null(UNMATCHED))
        .alias("link_method"),
        pl.when(had_number).then(1.0).otherwise(pl.col("confidence").fill_null(0.0)).alias("link_confidence"),
        pl.coalesce(NHS_NUMBER, "_traced").alias(NHS_NUMBER),
    )  # fmt: skip
    out = out.join(_pseudo_keys(frame, keys, remaining, namespace, local_id), on=ROW_IDX, how="left").drop(
        ROW_IDX, "_traced", "_method", "confidence"
    )
    counts = out.group_by("link_method").len()
    stats = TraceStats(
        rows=dict(zip(counts["link_method"].to_list(), counts["len"].to_list(), strict=True)),
        ambiguous=ambiguous,
        skipped=tuple(skipped),
    )
    return TraceResult(out, stats)


def pseudo_keys(records: pl.DataFrame, *, namespace: str, local_id: str | None = None) -> pl.Series:
    """The `pseudo_key` each row of `records` would get from `trace` if no pass matched it (row order).

    Lets a later step find people who had a pseudo-ID before and are linked now (`linkage.review`).
    """
    frame = records.drop(ROW_IDX, strict=False).with_row_index(ROW_IDX)
    keys = _record_keys(frame)
    return _pseudo_keys(frame, keys, keys, namespace, local_id).sort(ROW_IDX).get_column("pseudo_key")


_EMPTY = pl.DataFrame(schema={ROW_IDX: pl.UInt32, NHS_NUMBER: pl.String, "confidence": pl.Float64})
_EMPTY_TRACED = pl.DataFrame(
    schema={ROW_IDX: pl.UInt32, "_traced": pl.String, "confidence": pl.Float64, "_method": pl.String}
)


def _record_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """row_idx plus the normalised key columns this source carries (absent columns stay absent)."""
    exprs: list[pl.Expr] = [pl.col(ROW_IDX)]
    cols = set(frame.columns)
    for c in ("given_name", "family_name"):
        if c in cols:
            exprs.append(name_key(pl.col(c)).alias(c))
    if "date_of_birth" in cols:
        exprs.append(pl.col("date_of_birth").cast(pl.Date))
    if "sex" in cols:
        exprs.append(sex_key(pl.col("sex")).alias("sex"))
    if "postcode" in cols:
        exprs.append(postcode_key(pl.col("postcode")).alias("postcode"))
    return frame.select(exprs)


def _master_index(master: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Distinct (keys, nhs_number) rows; postcode keys use every postcode the person ever had."""
    others = [k for k in keys if k != "postcode"]
    base = master.select(NHS_NUMBER, *others)
    if "sex" in others:
        base = base.with_columns(sex_key(pl.col("sex")).alias("sex"))
    if "postcode" in keys:
        base = base.join(master_postcodes(master), on=NHS_NUMBER, how="inner")
    return base.drop_nulls().unique()


def _pseudo_keys(
    frame: pl.DataFrame, keys: pl.DataFrame, unmatched: pl.DataFrame, namespace: str, local_id: str | None
) -> pl.DataFrame:
    """row_idx -> pseudo_key for the rows no pass matched (see `trace`)."""
    local_id = local_id or next((c for c in LOCAL_ID_COLUMNS if c in frame.columns), None)
    parts = keys.join(unmatched.select(ROW_IDX), on=ROW_IDX, how="semi")
    fields = [
        (pl.col(c).dt.strftime("%Y-%m-%d") if c == "date_of_birth" else pl.col(c)).fill_null("")
        if c in parts.columns
        else pl.lit("")
        for c in PSEUDO_KEY_FIELDS
    ]
    demographic = pl.concat_str(fields, separator="|")
    extra = [c for c in (local_id, "source_file", "source_line") if c and c in frame.columns]
    parts = parts.join(frame.select(ROW_IDX, *extra), on=ROW_IDX, how="left")
    local = pl.col(local_id).cast(pl.String) if local_id in parts.columns else pl.lit(None, pl.String)
    # No local id and no demographics at all: a per-record key, so strangers are never merged.
    row = (
        pl.concat_str(
            [pl.lit("row:"), pl.col("source_file"), pl.lit(":"), pl.col("source_line").cast(pl.String)]
        )
        if {"source_file", "source_line"} <= set(parts.columns)
        else pl.lit(None, pl.String)
    )
    key = (
        pl.when(local.is_not_null() & (local.str.strip_chars() != ""))
        .then(local.str.strip_chars())
        .when(demographic.str.replace_all(r"\|", "") != "")
        .then(demographic)
        .otherwise(row)
    )
    return parts.select(ROW_IDX, (pl.lit(namespace + ":") + key).alias("pseudo_key"))
