"""What a quality run produces: one `CheckResult` per expectation (counts and a verdict, never a value
from the data) and the `QualityRun` that holds them with the month volumes it saw."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl

from linkage.warehouse.schema import DQ_RESULTS_COLUMNS

Outcome = Literal["pass", "warn", "fail"]

#: Columns of the `dq_results` warehouse table (and of the history parquet), with DuckDB types.
_POLARS = {"VARCHAR": pl.String, "TIMESTAMP": pl.Datetime("us"), "BIGINT": pl.Int64, "DOUBLE": pl.Float64}
DQ_RESULTS_SCHEMA: dict[str, Any] = {c: _POLARS[t] for c, t in DQ_RESULTS_COLUMNS.items()}
VOLUME_SCHEMA: dict[str, Any] = {
    "run_id": pl.String, "run_at": pl.Datetime("us"), "source": pl.String, "month": pl.String, "rows": pl.Int64,
}  # fmt: skip


@dataclass(frozen=True)
class CheckResult:
    """One expectation on one asset in one run: counts and the verdict, no data values."""

    run_id: str
    run_at: datetime
    asset: str
    expectation: str
    category: str
    kind: str
    engine: str
    rows_evaluated: int
    rows_failed: int
    pass_pct: float | None
    threshold: float
    severity: str
    outcome: Outcome

    @property
    def message(self) -> str:
        """What a person needs to act: which check, on what, and by how much (counts only)."""
        share = 100.0 - (self.pass_pct if self.pass_pct is not None else 100.0)
        return (
            f"{self.expectation} on {self.asset}: {self.rows_failed} of {self.rows_evaluated} rows failed "
            f"({share:.2f}%, allowed {self.threshold * 100:.2f}%) -> {self.outcome}"
        )


def naive_utc(moment: datetime) -> datetime:
    """UTC without tzinfo: how run_at is stored (DuckDB TIMESTAMP, polars Datetime without zone)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def outcome(evaluated: int, failed: int, threshold: float, severity: str) -> Outcome:
    """pass when the failing share is within the threshold; otherwise fail (block) or warn."""
    if evaluated == 0 or failed / evaluated <= threshold:
        return "pass"
    return "fail" if severity == "block" else "warn"


@dataclass
class QualityRun:
    """The results of one run, plus the month volumes it saw (kept as history for the next run)."""

    run_id: str
    run_at: datetime
    results: list[CheckResult] = field(default_factory=list)
    volumes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VOLUME_SCHEMA))

    def frame(self) -> pl.DataFrame:
        rows = [asdict(r) for r in self.results]
        return (
            pl.DataFrame(rows, schema=DQ_RESULTS_SCHEMA) if rows else pl.DataFrame(schema=DQ_RESULTS_SCHEMA)
        )

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "fail"]
