"""Linkage quality, visible (issue 7 §3): match rates from the pseudonymised zone.

* `linkage_counts` / `linkage_rates` read only pseudonymised data: the staged records' `link_method`
  (every activity row keeps how it was linked) joined on `person_token` to the warehouse `person` for
  ethnic group and IMD quintile. Of the records that arrived without a valid NHS number (`link_method`
  other than `nhs_number`), how many were traced exactly, probabilistically (Splink), by the national
  service (DBS), joined to a person by clustering, or left unmatched — by source, ethnic group and IMD
  quintile, because linkage error that differs between groups is a known source of bias.
  `linkage_rates` publishes them through `core.disclosure.round_and_suppress`.
* A record is *linked to a person* when it has an NHS number (on arrival or traced) or, untraced, shares
  its pseudo-ID with records of another source or month: clustering (`linkage.cluster`) made it one
  person with them. An untraced record whose pseudo-ID appears in no other file is unmatched.

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
    "traced_national",
    "clustered",
    "unmatched",
)
#: Shares in `linkage_rates`: no_valid_nhs of records; the five outcomes of no_valid_nhs; linked of records.
RATE_COLUMNS: tuple[str, ...] = (
    "no_valid_nhs_pct", "exact_pct", "probabilistic_pct", "national_pct", "clustered_pct", "unmatched_pct",
    "linked_pct", "linked_gap_pp",
)  # fmt: skip
#: `link_method` of a record the national service (DBS round trip, `load.trace`) traced.
NATIONAL_METHOD = "dbs"
#: `link_method` of a record whose cluster of untraced records held one known person (`load.pseudonymise`).
CLUSTER_METHOD = "clustered"
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


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = $t AND column_name = $c",
        {"t": table, "c": column},
    ).fetchall()
    return bool(rows and rows[0][0])


def _records_sql(con: duckdb.DuckDBPyConnection, staged: Path | None, sources: Iterable[str]) -> str | None:
    """One SELECT of (source, person_token, link_method, batch) over every traced feed: the build's
    `stg_<source>` tables when `con` has them, else the pseudonymised staged parquet under `staged`.

    `batch` names the file a record came in (its `source_month`; a staged file is one month, so its
    name where the column is absent): records of one person in two batches were linked to each other."""
    parts = []
    for source in sources:
        if _has_table(con, f"stg_{source}"):
            rel = f"stg_{source}"
            batch = "CAST(source_month AS VARCHAR)" if _has_column(con, rel, "source_month") else "NULL"
        else:
            files = sorted(str(p) for p in (staged / source).glob("*.parquet")) if staged else []
            if not files:
                continue
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            rel = f"read_parquet([{listed}], union_by_name = true, filename = true)"
            batch = "filename"
        parts.append(
            f"SELECT '{source}' AS source, person_token, link_method, "  # noqa: S608
            f"'{source}/' || coalesce({batch}, '') AS batch FROM {rel}"
        )
    return " UNION ALL ".join(parts) if parts else None


def _outcome_sql() -> str:
    """The CASE giving each record its linkage outcome (a COUNT_COLUMNS name after `records`).

    An untraced record ('unmatched', or null from a feed older than the column) is `clustered` when its
    pseudo-ID is shared with another batch (the `shared` relation of `linkage_counts`)."""
    return (
        "CASE WHEN r.link_method = 'nhs_number' THEN 'nhs_number' "
        "WHEN r.link_method LIKE 'exact%' THEN 'traced_exact' "
        f"WHEN r.link_method = '{NATIONAL_METHOD}' THEN 'traced_national' "
        f"WHEN r.link_method = '{CLUSTER_METHOD}' THEN 'clustered' "
        "WHEN r.link_method IS DISTINCT FROM 'unmatched' AND r.link_method IS NOT NULL "
        "THEN 'traced_probabilistic' "
        "WHEN s.person_token IS NOT NULL THEN 'clustered' ELSE 'unmatched' END"
    )


def linkage_counts(
    con: duckdb.DuckDBPyConnection,
    staged: Path | None = None,
    *,
    sources: Iterable[str] = TRACED_SOURCES,
) -> pl.DataFrame:
    """Unrounded counts per (dimension, value): records, no_valid_nhs, traced_exact,
    traced_probabilistic, traced_national, clustered, unmatched. Not for publication as is (see
    `linkage_rates`).

    `con` reaches the warehouse `person` table (the building file inside the before-publish hook, or
    a published file); records are the `stg_<source>` tables when present, else `staged`
    (HOME/pseudonymised/staged). Exact = any `exact_*` pass; probabilistic = the Splink pass (and
    clerical-review decisions, which it applies); national = the DBS round trip; clustered = a cluster of
    untraced records gave the number, or the record's pseudo-ID is shared with records of another source
    or month (one person); unmatched = a pseudo-ID no other batch holds.
    """
    records = _records_sql(con, staged, sources)
    if records is None:
        return pl.DataFrame(schema=_COUNT_SCHEMA)
    person = (
        "LEFT JOIN (SELECT person_token, any_value(ethnic_group) AS ethnic_group, "
        "any_value(imd_decile) AS imd_decile FROM person GROUP BY person_token) AS p ON p.person_token = r.person_token"
        if _has_table(con, "person")
        else "LEFT JOIN (SELECT NULL::VARCHAR AS person_token, NULL::VARCHAR AS ethnic_group, "
        "NULL::INTEGER AS imd_decile WHERE false) AS p ON p.person_token = r.person_token"
    )
    # Pseudo-IDs of untraced records seen in more than one batch (source and month).
    shared = (
        "SELECT person_token FROM recs WHERE link_method = 'unmatched' OR link_method IS NULL "
        "GROUP BY person_token HAVING count(DISTINCT batch) > 1"
    )
    outcomes = ", ".join(f"count(*) FILTER (WHERE outcome = '{col}') AS {col}" for col in COUNT_COLUMNS[2:])
    measures = (
        "count(*) AS records, count(*) FILTER (WHERE outcome <> 'nhs_number') AS no_valid_nhs, " + outcomes
    )
    # One scan for every dimension (GROUPING SETS), then one frame per dimension in a fixed order.
    values = ", ".join(f"CAST({expr} AS VARCHAR) AS {dim}" for dim, expr in _GROUP_EXPR.items())
    dimension = "CASE " + " ".join(f"WHEN grouping({dim}) = 0 THEN '{dim}'" for dim in _GROUP_EXPR) + " END"
    value = "coalesce(" + ", ".join(_GROUP_EXPR) + ")"
    sets = ", ".join(f"({dim})" for dim in _GROUP_EXPR)
    counts = con.sql(
        f"WITH recs AS ({records}), shared AS ({shared}) "  # noqa: S608
        f"SELECT {dimension} AS dimension, {value} AS value, {measures} "
        f"FROM (SELECT {_outcome_sql()} AS outcome, {values} FROM recs AS r "
        f"LEFT JOIN shared AS s ON r.person_token = s.person_token "
        f"AND (r.link_method = 'unmatched' OR r.link_method IS NULL) {person}) "
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
        pct("traced_national", "no_valid_nhs").alias("national_pct"),
        pct("clustered", "no_valid_nhs").alias("clustered_pct"),
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
    head = ["dimension", "value", "records", "no valid NHS no.", "exact %", "probabilistic %", "national %",
            "clustered %", "unmatched %", "linked %", "gap to best (points)"]  # fmt: skip

    def fmt(v: float | None) -> str:
        return "*" if v is None else f"{v:.1f}"

    rows = [
        [r["dimension"], r["value"], r["records_display"], r["no_valid_nhs_display"],
         fmt(r["exact_pct"]), fmt(r["probabilistic_pct"]), fmt(r["national_pct"]), fmt(r["clustered_pct"]),
         fmt(r["unmatched_pct"]), fmt(r["linked_pct"]),
         "" if r["linked_gap_pp"] is None else fmt(r["linked_gap_pp"])]
        for r in rates.iter_rows(named=True)
    ]  # fmt: skip
    return markdown_table(head, rows)
