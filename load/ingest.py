"""Stage 2: the connectors over (source, month) files -> staged records, quarantine and ops counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import connectors
from connectors.landing import delivered_file, delivered_files, read_regular
from connectors.manifest import check_rows, read_manifest
from core.layout import Home
from load.files import map_files, write_parquet
from load.registers import Registers


@dataclass
class StageCounts:
    """Counts a stage reports (never patient values): safe for logs and Dagster metadata."""

    rows_in: int = 0
    loaded: int = 0
    quarantined: int = 0
    opted_out: int = 0
    excluded: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    # Not a count and not compared: the connector's typed checks, timed for `phm bench` (two runs of the
    # same file give the same counts, never the same seconds).
    typing_seconds: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "opted_out": self.opted_out,
            "excluded": self.excluded,
            **self.extra,
        }


def ingest_month(
    source: str, month: str, landing: Path, home: Home, registers: Registers, load_id: str,
    *, delivered: Mapping[tuple[str, str], Path] | None = None,
) -> StageCounts | None:  # fmt: skip
    """Run one source's connector over one month's latest delivery. Returns None when there is none.

    `delivered` is `connectors.landing.delivered_files(landing)` when the caller loads many months
    (one inventory for all of them); without it the month's file is looked up on its own.
    Raises `connectors.ExtractFileError` for a malformed file, or one whose rows differ from its
    manifest, before anything is written, so the previous load of that month stays in place.
    """
    # The latest delivery (a resubmission replaces).
    path = delivered_file(landing, source, month) if delivered is None else delivered.get((source, month))
    if path is None:
        return None
    result = connectors.ingest_file(
        source,
        path,
        landing=landing,
        opt_outs=registers.opt_outs,
        non_sharing=registers.non_sharing,
        load_id=load_id,
    )
    rel = path.relative_to(landing).as_posix()
    check_rows(read_manifest(path, rel, read_regular), result.reconciliation.rows_in, rel)
    write_parquet(result.records, home.staged(source, month))  # ingest_file has reconciled the file
    write_parquet(result.quarantine, home.quarantine(source, month))
    write_parquet(result.quarantine_counts, home.ops("quarantine", source, month))
    write_parquet(result.removed, home.ops_connector("opt_outs", source, month))
    write_parquet(result.reconciliation.as_frame(), home.ops_connector("reconciliation", source, month))
    rec = result.reconciliation.as_dict()
    return StageCounts(
        rec["rows_in"], rec["loaded"], rec["quarantined"], rec["opted_out"], rec["excluded"],
        typing_seconds=result.typing_seconds,
    )  # fmt: skip


@dataclass(frozen=True)
class MonthOutcome:
    """What ingesting one source's month gave: counts, no file (`counts` None), or a file-level error."""

    source: str
    month: str
    counts: StageCounts | None
    error: str | None = None  # names the file and the problem (counts only, never a value)


def ingest_months(
    pairs: Iterable[tuple[str, str]], landing: Path, home: Home, registers: Registers, load_id: str
) -> list[MonthOutcome]:
    """`ingest_month` over (source, month) pairs, several files at once, outcomes in input order.

    A malformed file or a reconciliation failure fails only its own month (`error` set, nothing of it
    written); any other exception is a bug and propagates.
    """

    delivered = delivered_files(landing)  # one walk of landing for every month, not one per month

    def one(pair: tuple[str, str]) -> MonthOutcome:
        source, month = pair
        try:
            counts = ingest_month(source, month, landing, home, registers, load_id, delivered=delivered)
            return MonthOutcome(source, month, counts)
        except (connectors.ExtractFileError, connectors.ReconciliationError) as exc:
            return MonthOutcome(source, month, None, str(exc))

    return map_files(one, list(pairs))
