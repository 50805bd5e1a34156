"""The generic connector: one landing file in, typed records + quarantine + counts out.

Every source is read by this one engine, driven by its ``connectors.spec.Extract`` and the few extras in
``connectors.sources``. Each data line lands in exactly one bucket, in this order: quarantined
(malformed, then row checks) -> excluded (duplicate, then non-sharing practice) -> opted out -> loaded;
``Reconciliation.check`` proves the buckets add up before the result is returned.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from connectors import reasons as rs
from connectors import spec
from connectors.errors import ReconciliationError
from connectors.landing import delivery_month
from connectors.optouts import OptOuts, removal_counts
from connectors.rawfile import HASH, LINE, RAW, RawFile, read_raw, relative_name
from connectors.sources import rules_for
from connectors.validate import REASON, check_rows

_QUARANTINE_SCHEMA = {
    "source_file": pl.String,
    "source_line": pl.Int64,
    "reason": pl.String,
    "raw_line": pl.String,
}


@dataclass(frozen=True)
class Reconciliation:
    """Row accounting for one file: rows_in = loaded + quarantined + opted_out + excluded."""

    source: str
    file: str
    month: str | None
    rows_in: int
    loaded: int
    quarantined: dict[str, int]  # by reason
    opted_out: dict[str, int]  # by route
    excluded: dict[str, int]  # by reason

    def check(self) -> None:
        """Raise ReconciliationError (counts only, no row values) unless every row is accounted for."""
        q, o, e = sum(self.quarantined.values()), sum(self.opted_out.values()), sum(self.excluded.values())
        if self.rows_in != self.loaded + q + o + e:
            raise ReconciliationError(
                f"{self.file}: rows_in={self.rows_in} != loaded={self.loaded} + quarantined={q} "
                f"+ opted_out={o} + excluded={e} (= {self.loaded + q + o + e})"
            )

    def as_dict(self) -> dict[str, Any]:
        """Flat, warehouse-safe counts (one value per bucket and reason)."""
        out: dict[str, Any] = {
            "source": self.source,
            "file": self.file,
            "month": self.month,
            "rows_in": self.rows_in,
            "loaded": self.loaded,
            "quarantined": sum(self.quarantined.values()),
            "opted_out": sum(self.opted_out.values()),
            "excluded": sum(self.excluded.values()),
        }
        out |= {f"quarantined_{r}": self.quarantined.get(r, 0) for r in rs.QUARANTINE_REASONS}
        out |= {f"opted_out_{r}": self.opted_out.get(r, 0) for r in ("ndoo", "type1")}
        out |= {f"excluded_{r}": self.excluded.get(r, 0) for r in rs.EXCLUSION_REASONS}
        return out

    def as_frame(self) -> pl.DataFrame:
        return pl.DataFrame([self.as_dict()], schema_overrides={"month": pl.String})


@dataclass(frozen=True)
class IngestResult:
    """What one file produced. ``records`` and ``quarantine`` are identifiable; the rest is counts."""

    records: pl.DataFrame
    quarantine: pl.DataFrame  # source_file, source_line, reason, raw_line
    quarantine_counts: pl.DataFrame  # source, file, month, reason, rows
    removed: pl.DataFrame  # source, file, month, practice_code, route, rows
    reconciliation: Reconciliation
    typing_seconds: float = 0.0  # time in the typed per-value checks (`check_rows`), for `phm bench`

    def reconcile(self) -> None:
        """Raise ReconciliationError if the file's rows are not all accounted for."""
        self.reconciliation.check()


def file_month(source: str, path: Path) -> str | None:
    """'YYYY-MM' from a file named by the delivery rule (`connectors.landing`), else None (checks skipped)."""
    return delivery_month(source, path.name)


def _latest_date(month: str | None, as_of: date | None) -> date | None:
    """The last acceptable activity date: end of the file's month, or as_of if that is earlier."""
    limits = [as_of] if as_of is not None else []
    if month is not None:
        y, m = (int(p) for p in month.split("-"))
        limits.append(date(y, m, calendar.monthrange(y, m)[1]))
    return min(limits) if limits else None


def _duplicate_mask(checked: pl.DataFrame, raw: RawFile) -> pl.Series:
    """True for a row that passed the checks and whose raw text repeats an earlier passing row.

    Hashes first (cheap), then compares the text exactly among rows whose hash repeats, so a hash
    collision can never exclude a genuine row.
    """
    passing = checked[REASON].is_null()
    hashed = pl.select(pl.when(passing).then(checked[HASH])).to_series()
    # Passing rows whose hash occurs more than once among passing rows (the others' hashes are null):
    # one pass over the hashes, where finding the repeats and then every row holding one took three.
    candidates = (passing & hashed.is_duplicated()).arg_true()
    if candidates.is_empty():
        return pl.repeat(False, checked.height, eager=True)
    exact = ~raw.raw_lines(checked[LINE].gather(candidates)).is_first_distinct()
    return pl.repeat(False, checked.height, eager=True).scatter(candidates, exact)


def ingest_file(
    source: str,
    path: Path,
    *,
    landing: Path,
    opt_outs: OptOuts,
    non_sharing: frozenset[str],
    load_id: str,
    as_of: date | None = None,
) -> IngestResult:
    """Read, normalise, check and filter one landing file of ``source``.

    Raises ExtractFileError when the file as a whole is unusable (encoding, empty, header, truncation)
    and ReconciliationError if the row accounting does not add up (a bug guard).
    """
    if source not in spec.EXTRACTS:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(spec.SOURCES)}")
    extract = spec.EXTRACTS[source]
    file = relative_name(path, landing)
    month = file_month(source, path)
    raw = read_raw(path, file, extract.names)
    started = time.perf_counter()
    checked = check_rows(raw.fields, extract, rules_for(source), latest=_latest_date(month, as_of))
    typing_seconds = time.perf_counter() - started

    malformed = raw.lines.filter(~pl.col("ok")).select(
        pl.col(LINE).alias("source_line"),
        pl.lit(rs.MALFORMED_LINE).alias("reason"),
        pl.col(RAW).fill_null("").alias("raw_line"),
    )
    failed = checked.filter(pl.col(REASON).is_not_null()).select(
        pl.col(LINE).alias("source_line"), pl.col(REASON).alias("reason")
    )
    failed = failed.with_columns(raw.raw_lines(failed["source_line"]).alias("raw_line"))
    quarantine = (
        pl.concat([malformed, failed])
        .sort("source_line")
        .select(pl.lit(file).alias("source_file"), "source_line", "reason", "raw_line")
        .cast(_QUARANTINE_SCHEMA)  # type: ignore[arg-type]
    )

    # Decide every row's bucket on narrow columns, then filter the wide frame once.
    is_gp = source in spec.GP_SOURCES
    if "practice_code" in checked.columns:
        not_sharing = pl.col("practice_code").is_in(pl.Series(list(non_sharing), dtype=pl.String).implode())
        shares = pl.when(pl.col("practice_code").is_null()).then(None).otherwise(~not_sharing)
    else:
        shares = pl.lit(None, pl.Boolean)
    checked = checked.with_columns(
        shares.alias("practice_shares_gp_data"), _duplicate_mask(checked, raw).alias("__dup")
    )
    excluded_as = (
        pl.when(pl.col(REASON).is_not_null())
        .then(None)
        .when(pl.col("__dup"))
        .then(pl.lit(rs.DUPLICATE))
        .when(pl.lit(is_gp) & pl.col("practice_shares_gp_data").not_().fill_null(False))
        .then(pl.lit(rs.PRACTICE_NOT_SHARING))
    )
    practice = pl.col("practice_code") if "practice_code" in checked.columns else pl.lit(None, pl.String)
    buckets = checked.select(
        REASON, "nhs_number", excluded_as.alias("excluded"), practice.alias("practice_code")
    )
    buckets = buckets.with_columns(
        pl.when(pl.col(REASON).is_null() & pl.col("excluded").is_null())
        .then(opt_outs.route(pl.col("nhs_number")))
        .alias("route")
    )
    keep = buckets.select(pl.all_horizontal(pl.col(REASON, "excluded", "route").is_null())).to_series()
    ex_counts = buckets.filter(pl.col("excluded").is_not_null())["excluded"].value_counts()
    excluded = dict(ex_counts.sort("excluded").iter_rows())
    removed = removal_counts(buckets.filter(pl.col("route").is_not_null()), source=source)

    order = [c.canonical for c in extract.columns]
    records = (
        checked.select(
            *order, "nhs_number_status", "practice_shares_gp_data", pl.col(LINE).alias("source_line")
        )
        .filter(keep)
        .with_columns(pl.lit(file).alias("source_file"), pl.lit(load_id).alias("load_id"))
        .select(
            *order, "nhs_number_status", "practice_shares_gp_data", "source_file", "source_line", "load_id"
        )
    )

    q_counts = quarantine.group_by("reason").agg(pl.len().cast(pl.Int64).alias("rows")).sort("reason")
    reconciliation = Reconciliation(
        source=source,
        file=file,
        month=month,
        rows_in=raw.lines.height,
        loaded=records.height,
        quarantined=dict(zip(q_counts["reason"].to_list(), q_counts["rows"].to_list(), strict=True)),
        opted_out=_sum_by(removed, "route"),
        excluded=excluded,
    )
    result = IngestResult(
        records=records,
        quarantine=quarantine,
        quarantine_counts=q_counts.select(
            pl.lit(source).alias("source"),
            pl.lit(file).alias("file"),
            pl.lit(month, pl.String).alias("month"),
            "reason",
            "rows",
        ),
        removed=removed.select(
            "source",
            pl.lit(file).alias("file"),
            pl.lit(month, pl.String).alias("month"),
            "practice_code",
            "route",
            "rows",
        ),
        reconciliation=reconciliation,
        typing_seconds=typing_seconds,
    )
    result.reconcile()
    return result


def _sum_by(frame: pl.DataFrame, key: str) -> dict[str, int]:
    totals = frame.group_by(key).agg(pl.col("rows").sum()).sort(key)
    return dict(zip(totals[key].to_list(), totals["rows"].to_list(), strict=True))
