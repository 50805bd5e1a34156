"""Linkage quality, visible (issue 7 §3): match rates from the pseudonymised zone.

* `linkage_counts` / `linkage_rates` read only pseudonymised data: the staged records' `link_method`
  (every activity row keeps how it was linked) joined on `person_token` to the warehouse `person` for
  ethnic group and IMD quintile. Of the records that arrived without a valid NHS number (`link_method`
  other than `nhs_number`), how many were traced exactly, probabilistically, or left unmatched — by
  source, ethnic group and IMD quintile, because linkage error that differs between groups is a known
  source of bias. `linkage_rates` publishes them through `core.disclosure.round_and_suppress`.

Accuracy against the synthetic truth (precision, recall and F1 of the tokens given to those records) is
`bench.truth.linkage_accuracy`: only benchmarks and tests read the truth, never the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core.disclosure import round_and_suppress
from core.tables import markdown_table

#: Counts per group (unrounded in `linkage_counts`, published in `linkage_rates`).
COUNT_COLUMNS: tuple[str, ...] = (
    "records",
    "no_valid_nhs",
    "traced_exact",
    "traced_probabilistic",
    "unmatched",
)
#: Shares in `linkage_rates`: no_valid_nhs of records; the three outcomes of no_valid_nhs.
RATE_COLUMNS: tuple[str, ...] = (
    "no_valid_nhs_pct", "exact_pct", "probabilistic_pct", "unmatched_pct", "linked_pct", "linked_gap_pp"
)  # fmt: skip
# Dimensions whose groups are compared for fairness, and the gap (points) that raises a warning.
FAIRNESS_DIMENSIONS: tuple[str, ...] = ("ethnic_group", "imd_quintile")
FAIRNESS_GAP_PP = 2.0
DIMENSIONS: tuple[str, ...] = ("source", "ethnic_group", "imd_quintile")
#: Feeds whose records can arrive without an NHS number (GP feeds always carry it).
TRACED_SOURCES: tuple[str, ...] = ("apc", "ecds", "outpatients", "csds", "mhsds", "asc_cld")

_GROUP_EXPR = {
    "source": "r.source",
    "ethnic_group": "coalesce(p.ethnic_group, 'Unknown')",
    "imd_quintile": "coalesce(CAST((p.imd_decile + 1) // 2 AS VARCHAR), 'Unknown')",
}
_COUNT_SCHEMA: dict[str, Any] = {
    "dimension": pl.String, "value": pl.String, **dict.fromkeys(COUNT_COLUMNS, pl.Int64)
}  # fmt: skip


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $name", {"name": name}
    ).fetchall()
    return bool(rows and rows[0][0])


def _records_sql(con: duckdb.DuckDBPyConnection, staged: Path | None, sources: Iterable[str]) -> str | None:
    """One SELECT of (source, person_token, link_method) over every traced feed: the build's
    `stg_<source>` tables when `con` has them, else the pseudonymised staged parquet under `staged`."""
    parts = []
    for source in sources:
        if _has_table(con, f"stg_{source}"):
            rel = f"stg_{source}"
        else:
            files = sorted(str(p) for p in (staged / source).glob("*.parquet")) if staged else []
            if not files:
                continue
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            rel = f"read_parquet([{listed}], union_by_name = true)"
        parts.append(f"SELECT '{source}' AS source, person_token, link_method FROM {rel}")  # noqa: S608
    return " UNION ALL ".join(parts) if parts else None


def linkage_counts(
    con: duckdb.DuckDBPyConnection,
    staged: Path | None = None,
    *,
    sources: Iterable[str] = TRACED_SOURCES,
) -> pl.DataFrame:
    """Unrounded counts per (dimension, value): records, no_valid_nhs, traced_exact,
    traced_probabilistic, unmatched. Not for publication as is (see `linkage_rates`).

    `con` reaches the warehouse `person` table (the building file inside the before-publish hook, or
    a published file); records are the `stg_<source>` tables when present, else `staged`
    (HOME/pseudonymised/staged). Exact = any `exact_*` pass; probabilistic = the Splink pass (and
    clerical-review decisions, which it applies); unmatched = left with a persistent pseudo-ID.
    """
    records = _records_sql(con, staged, sources)
    if records is None:
        return pl.DataFrame(schema=_COUNT_SCHEMA)
    person = (
        "LEFT JOIN (SELECT person_token, any_value(ethnic_group) AS ethnic_group, "
        "any_value(imd_decile) AS imd_decile FROM person GROUP BY person_token) AS p USING (person_token)"
        if _has_table(con, "person")
        else "LEFT JOIN (SELECT NULL::VARCHAR AS person_token, NULL::VARCHAR AS ethnic_group, "
        "NULL::INTEGER AS imd_decile WHERE false) AS p USING (person_token)"
    )
    measures = (
        "count(*) AS records, "
        "count(*) FILTER (WHERE link_method IS DISTINCT FROM 'nhs_number') AS no_valid_nhs, "
        "count(*) FILTER (WHERE link_method LIKE 'exact%') AS traced_exact, "
        "count(*) FILTER (WHERE link_method IS DISTINCT FROM 'nhs_number' AND link_method NOT LIKE 'exact%' "
        "AND link_method IS DISTINCT FROM 'unmatched' AND link_method IS NOT NULL) AS traced_probabilistic, "
        "count(*) FILTER (WHERE link_method = 'unmatched' OR link_method IS NULL) AS unmatched"
    )
    # One scan for every dimension (GROUPING SETS), then one frame per dimension in a fixed order.
    values = ", ".join(f"CAST({expr} AS VARCHAR) AS {dim}" for dim, expr in _GROUP_EXPR.items())
    dimension = "CASE " + " ".join(f"WHEN grouping({dim}) = 0 THEN '{dim}'" for dim in _GROUP_EXPR) + " END"
    value = "coalesce(" + ", ".join(_GROUP_EXPR) + ")"
    sets = ", ".join(f"({dim})" for dim in _GROUP_EXPR)
    counts = con.sql(
        f"SELECT {dimension} AS dimension, {value} AS value, {measures} "  # noqa: S608
        f"FROM (SELECT r.link_method, {values} FROM ({records}) AS r {person}) "
        f"GROUP BY GROUPING SETS ({sets})"
    ).pl()
    order = {dim: n for n, dim in enumerate(_GROUP_EXPR)}
    return counts.sort(pl.col("dimension").replace_strict(order, return_dtype=pl.Int64), "value").cast(
        _COUNT_SCHEMA
    )


def protect(counts: pl.DataFrame) -> pl.DataFrame:
    """Publishable rates: every count through `round_and_suppress` (1-7 suppressed, others rounded to
    5); shares (%) computed from the published counts, null where a count they use is suppressed."""
    out = counts.select("dimension", "value")
    for col in COUNT_COLUMNS:
        safe = round_and_suppress(counts.select(pl.col(col).alias("n")), "n")
        out = out.with_columns(safe["n"].alias(col), safe["n_display"].alias(f"{col}_display"))

    def pct(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then((100.0 * pl.col(num) / pl.col(den)).round(1)).otherwise(None)

    linked = pl.when(pl.col("records") > 0).then(
        (100.0 * (pl.col("records") - pl.col("unmatched")) / pl.col("records")).round(1)
    )
    # Gap to the best known group of the same dimension ('Unknown' is not a group to compare with).
    best = pl.col("linked_pct").filter(pl.col("value") != "Unknown").max().over("dimension")
    return out.with_columns(
        pct("no_valid_nhs", "records").alias("no_valid_nhs_pct"),
        pct("traced_exact", "no_valid_nhs").alias("exact_pct"),
        pct("traced_probabilistic", "no_valid_nhs").alias("probabilistic_pct"),
        pct("unmatched", "no_valid_nhs").alias("unmatched_pct"),
        linked.alias("linked_pct"),
    ).with_columns(
        pl.when(pl.col("dimension").is_in(FAIRNESS_DIMENSIONS) & (pl.col("value") != "Unknown"))
        .then((best - pl.col("linked_pct")).round(1))
        .alias("linked_gap_pp")
    )


def fairness_warnings(rates: pl.DataFrame, limit: float = FAIRNESS_GAP_PP) -> list[str]:
    """One line per ethnic group or IMD quintile whose share of records linked to a person is more
    than `limit` points below the best group's (from the published rates; group names only)."""
    rows = rates.filter(pl.col("linked_gap_pp") > limit).sort("dimension", "value")
    return [
        f"{r['dimension']} {r['value']}: {r['linked_pct']:.1f} % of records linked, "
        f"{r['linked_gap_pp']:.1f} points below the best group"
        for r in rows.iter_rows(named=True)
    ]


def linkage_rates(
    con: duckdb.DuckDBPyConnection,
    staged: Path | None = None,
    *,
    sources: Iterable[str] = TRACED_SOURCES,
) -> pl.DataFrame:
    """Match rates by source, ethnic group and IMD quintile, disclosure-protected (safe to publish).

    Columns: dimension, value, the COUNT_COLUMNS (published value, null when suppressed) each with a
    `<col>_display` text ('*' or the rounded number), and the RATE_COLUMNS in %.
    """
    return protect(linkage_counts(con, staged, sources=sources))


def rates_markdown(rates: pl.DataFrame) -> str:
    """The published rates as a Markdown table (Dagster metadata, the report's text)."""
    head = ["dimension", "value", "records", "no valid NHS no.", "exact %", "probabilistic %", "unmatched %",
            "linked %", "gap to best (points)"]  # fmt: skip

    def fmt(v: float | None) -> str:
        return "*" if v is None else f"{v:.1f}"

    rows = [
        [r["dimension"], r["value"], r["records_display"], r["no_valid_nhs_display"],
         fmt(r["exact_pct"]), fmt(r["probabilistic_pct"]), fmt(r["unmatched_pct"]), fmt(r["linked_pct"]),
         "" if r["linked_gap_pp"] is None else fmt(r["linked_gap_pp"])]
        for r in rates.iter_rows(named=True)
    ]  # fmt: skip
    return markdown_table(head, rows)
