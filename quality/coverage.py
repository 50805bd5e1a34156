"""Coverage and bias: who is missing from the warehouse, and why, per run (aggregates only).

Four routes out of the data, each broken down where the warehouse knows enough to break it down:

* `opted_out` — rows removed for the National Data Opt-out or a Type 1 opt-out, by route
  (`opt_out_summary`), practice and place (`opt_out_by_area`): published by the warehouse already
  protected, so shown as published. Removed people left no demographics behind, so no IMD or ethnicity split.
* `no_gp_data` — people whose registered practice does not share GP data (`person.gp_data_shared` false):
  by practice, place, IMD quintile and ethnic group. Their GP-derived measures are missing, not zero.
* `quarantined` — rows rejected by the connectors (`quarantine_summary`), by source and reason.
* `not_traced` — people left with a persistent pseudo-ID (`person.link_method = 'unmatched'`): by place,
  IMD quintile and ethnic group; and activity rows per table carrying a `U` token.

Every breakdown goes through `core.disclosure.protect_table` (1-7 suppressed, others rounded to 5,
totals from unrounded counts, secondary suppression), so the frame is safe to show in the report.
"""

from __future__ import annotations

import duckdb
import polars as pl

from core.disclosure import protect_table
from linkage.warehouse.schema import ACTIVITY_KEYS

COVERAGE_COLUMNS = ("measure", "dimension", "value", "n", "n_display", "suppression", "total")

_PERSON_GROUPS = {
    "place": "coalesce(place, 'Unknown')",
    "practice": "coalesce(practice_code, 'Unknown')",
    "imd_quintile": "coalesce(CAST((imd_decile + 1) // 2 AS VARCHAR), 'Unknown')",
    "ethnic_group": "coalesce(ethnic_group, 'Unknown')",
}
_PERSON_MEASURES = {
    "no_gp_data": "gp_data_shared = false",
    "not_traced": "link_method = 'unmatched'",
    "registered": "true",
}


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    frame = con.sql(sql).pl()
    return frame.with_columns(pl.col("value").cast(pl.String), pl.col("n").cast(pl.Int64))


def _protect(measure: str, dimension: str, counts: pl.DataFrame) -> pl.DataFrame:
    if counts.height == 0:  # nothing removed this way: say so with a zero total
        return pl.DataFrame(
            {"measure": [measure], "dimension": [dimension], "value": ["Total"], "n": [0], "n_display": ["0"],
             "suppression": [None], "total": [True]},
            schema={"measure": pl.String, "dimension": pl.String, "value": pl.String, "n": pl.Int64,
                    "n_display": pl.String, "suppression": pl.String, "total": pl.Boolean},
        )  # fmt: skip
    safe = protect_table(counts.select("value", "n"), ["value"], "n")
    return safe.select(
        pl.lit(measure).alias("measure"),
        pl.lit(dimension).alias("dimension"),
        pl.col("value").fill_null("Total"),
        "n",
        "n_display",
        "suppression",
        "total",
    )


def _opted_out(con: duckdb.DuckDBPyConnection) -> list[pl.DataFrame]:
    """The opt-out breakdowns as the warehouse publishes them (already protected, so taken as they are,
    never re-summed or rounded again): by route from `opt_out_summary`, by practice and place from
    `opt_out_by_area`, each followed by the ICS total."""
    published = "rows AS n, rows_display AS n_display, suppression"
    queries = {
        "route": f"SELECT route AS value, {published} FROM opt_out_summary "  # noqa: S608 (fixed SQL)
        "WHERE source IS NULL AND month IS NULL AND route IS NOT NULL ORDER BY value",
        **{
            level: f"SELECT area AS value, {published} FROM opt_out_by_area "  # noqa: S608
            f"WHERE level = '{level}' ORDER BY value"
            for level in ("practice", "place")
        },
    }
    total = con.sql(f"SELECT 'Total' AS value, {published} FROM opt_out_by_area WHERE level = 'ics'").pl()  # noqa: S608
    parts = []
    for dimension, sql in queries.items():
        cells = con.sql(sql).pl()
        if total.height == 0:  # nothing removed: a zero total, as for any other empty measure
            parts.append(_protect("opted_out", dimension, cells.select("value", pl.col("n").cast(pl.Int64))))
            continue
        frame = pl.concat(
            [cells.with_columns(total=pl.lit(False)), total.with_columns(total=pl.lit(True))],
            how="vertical_relaxed",
        )
        parts.append(
            frame.select(
                pl.lit("opted_out").alias("measure"),
                pl.lit(dimension).alias("dimension"),
                pl.col("value").cast(pl.String),
                pl.col("n").cast(pl.Int64),
                pl.col("n_display").cast(pl.String),
                pl.col("suppression").cast(pl.String),
                "total",
            )
        )
    return parts


def coverage(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The coverage breakdown of the warehouse behind `con`, disclosure-protected, in long form.

    Columns: measure, dimension, value (group or 'Total'), n (published count, null when suppressed),
    n_display ('*' or the rounded number), suppression (primary/secondary/null), total (bool).
    """
    parts: list[pl.DataFrame] = []
    for measure, predicate in _PERSON_MEASURES.items():
        for dimension, expr in _PERSON_GROUPS.items():
            counts = _count(
                con,
                f"SELECT {expr} AS value, count(*) AS n FROM person "  # noqa: S608 (fixed expressions)
                f"WHERE {predicate} GROUP BY ALL ORDER BY value",
            )
            parts.append(_protect(measure, dimension, counts))
    parts += _opted_out(con)
    for dimension, expr in {"source": "source", "reason": "reason"}.items():
        counts = _count(
            con,
            f"SELECT coalesce({expr}, 'Unknown') AS value, sum(rows) AS n "  # noqa: S608
            "FROM quarantine_summary GROUP BY ALL ORDER BY value",
        )
        parts.append(_protect("quarantined", dimension, counts))
    untraced = " UNION ALL ".join(
        f"SELECT '{t}' AS value, count(*) FILTER (WHERE person_token LIKE 'U%') AS n FROM {t}"  # noqa: S608
        for t in ACTIVITY_KEYS
    )
    parts.append(_protect("not_traced_rows", "table", _count(con, untraced)))
    return pl.concat(parts, how="vertical")
