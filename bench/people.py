"""`phm bench people`: does `person` count people? The loaded warehouse against the generator's truth.

Reads a home a load has finished (`phm run --data DATA --home HOME`) and DATA/truth/. Prints the person
count against the true number of people, and the published (disclosure-controlled) `linkage_rates`
rows per ethnic group and IMD quintile: the unmatched share among records that arrived without a valid
NHS number, and the share of records linked to a person, with the gap to the best group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from bench.report import BenchError, emit
from bench.truth import person_count_accuracy
from core.layout import Home


def _fairness(home: Home) -> list[dict[str, Any]]:
    from linkage.linkage_quality import FAIRNESS_DIMENSIONS
    from linkage.warehouse import open_read_only

    con = open_read_only(home.warehouse)
    try:
        # SELECT *: a warehouse built before the fairness columns were declared lacks them (shown null).
        rates = con.sql("SELECT * FROM linkage_rates ORDER BY dimension, value").pl()
    finally:
        con.close()
    wanted = {"untraceable_on_arrival_display": "untraceable", "unmatched_pct": "unmatched_pct",
              "linked_pct": "linked_pct", "linked_gap_pp": "linked_gap_pp"}  # fmt: skip
    return [
        {"dimension": r["dimension"], "value": r["value"], **{new: r.get(old) for old, new in wanted.items()}}
        for r in rates.filter(pl.col("dimension").is_in(FAIRNESS_DIMENSIONS)).iter_rows(named=True)
    ]


def bench_people(*, data: Path, home: Path) -> None:
    """Print the person count against truth and, per group, the unmatched and linked shares (%), then
    one JSON line."""
    h = Home(home)
    if not h.warehouse.exists():
        raise BenchError(f"no warehouse in {home}: load it first (phm run --data {data} --home {home})")
    if not (data / "truth" / "records.parquet").exists():
        raise BenchError(
            f"no truth/records.parquet under {data}: a synthetic ICS from phm generate is needed"
        )
    figures = person_count_accuracy(data / "truth", h)
    rows = _fairness(h)
    per_group = {
        f"{r['dimension']} {r['value']}": f"unmatched {r['unmatched_pct']} % of {r['untraceable']} "
        f"untraceable; linked {r['linked_pct']} %, gap {r['linked_gap_pp']}"
        for r in rows
    }
    emit({"stage": "people", **figures, **per_group, **_spread(rows)})


def _spread(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Points between the highest and lowest unmatched share of the known groups of each dimension."""
    out: dict[str, float | None] = {}
    for dim in ("ethnic_group", "imd_quintile"):
        shares = [r["unmatched_pct"] for r in rows
                  if r["dimension"] == dim and r["value"] != "Unknown" and r["unmatched_pct"] is not None]  # fmt: skip
        out[f"unmatched_pct_spread/{dim}"] = round(max(shares) - min(shares), 1) if shares else None
    return out
