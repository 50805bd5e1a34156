"""The risk model's temporal design: training window, outcome, who is eligible, the training frame.

To score everyone as at date t, the model is trained on features as at t - 12 months with the outcome
"an emergency admission (apc_spell.is_emergency) in (t - 12 months, t]" (docs/risk_model.md). Features
never look past their own as-of date, so nothing from the outcome window leaks into training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from cohort.features_sql import CODELISTS_DIR, compute_features

OUTCOME = "emergency admission within 12 months"
OUTCOME_MONTHS = 12


@dataclass(frozen=True)
class TrainingWindow:
    """Features as at `features_as_of`; outcome in (`features_as_of`, `outcome_end`]; scored as at `score_date`."""

    features_as_of: date
    outcome_end: date
    score_date: date

    def to_json(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in asdict(self).items()}


def months_before(d: date, months: int) -> date:
    """Same day `months` earlier, clipped to the month's end (DuckDB's `d - to_months(n)`)."""
    index = d.year * 12 + d.month - 1 - months
    year, month = divmod(index, 12)
    last = _month_end(year, month + 1)
    return date(year, month + 1, min(d.day, last))


def _month_end(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days


def latest_date(con: duckdb.DuckDBPyConnection) -> date:
    """End of the last month with activity in the warehouse: the default score date."""
    parts = []
    present = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    for table, column in (("apc_spell", "admission_date"), ("ae_attendance", "arrival_date"),
                          ("gp_event", "event_date"), ("op_appointment", "appointment_date")):  # fmt: skip
        if table in present:
            parts.append(f"SELECT max({column}) AS d FROM {table}")  # noqa: S608 (constant identifiers)
    if not parts:
        raise ValueError("the warehouse has no activity tables to date a score from")
    row = con.sql(f"SELECT last_day(max(d)) FROM ({' UNION ALL '.join(parts)})").fetchall()[0]  # noqa: S608
    if row[0] is None:
        raise ValueError("the warehouse has no dated activity")
    return row[0]


def outcomes(con: duckdb.DuckDBPyConnection, after: date, months: int = OUTCOME_MONTHS) -> pl.DataFrame:
    """person_token of everyone with an emergency admission in (after, after + months]."""
    return con.sql(
        "SELECT DISTINCT person_token FROM apc_spell WHERE is_emergency "
        "AND admission_date > $after AND admission_date <= $after + to_months($months)",
        params={"after": after, "months": months},
    ).pl()


def eligible(features: pl.DataFrame) -> pl.DataFrame:
    """People the model is trained on and scores: alive at the as-of date with a known age."""
    return features.filter(
        pl.col("alive").fill_null(False) & pl.col("age").is_not_null() & (pl.col("age") >= 0)
    )


def training_frame(
    con: duckdb.DuckDBPyConnection, features_as_of: date, *, codelists_dir: Path | None = CODELISTS_DIR
) -> pl.DataFrame:
    """Eligible people's features as at `features_as_of` with `y` = emergency admission in the next 12 months."""
    features = eligible(compute_features(con, features_as_of, codelists_dir=codelists_dir))
    events = outcomes(con, features_as_of).with_columns(pl.lit(1, pl.Int8).alias("y"))
    return features.join(events, on="person_token", how="left").with_columns(pl.col("y").fill_null(0))
