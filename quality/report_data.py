"""The figures of the data quality report, each an aggregate safe to publish.

Everything here is a per-source, per-practice or per-table summary computed in DuckDB; no record
leaves the query. Counts shown go through `core.disclosure` (1-7 suppressed, others rounded to 5);
rates through `core.disclosure.published_rate` (published counts only, blank where the numerator,
the denominator or the remainder is 1-7), and rates over groups of fewer than `MIN_GROUP_ROWS`
records are left blank.
"""

from __future__ import annotations

import duckdb
import polars as pl

from core.disclosure import protect_table, published_rate, round_and_suppress
from core.layout import Home
from quality.config import load_config
from quality.history import sorted_files

MIN_GROUP_ROWS = 8
#: Source -> the fields whose filling the completeness heatmap measures (those present are used).
COMPLETENESS_FIELDS: dict[str, tuple[str, ...]] = {
    "gp_patients": ("ethnic_category", "lsoa21", "birth_year_month"),
    "gp_events": ("event_date", "snomed_code"),
    "gp_medications": ("issue_date", "dmd_code", "quantity"),
    "apc": ("ethnic_category", "lsoa21", "birth_year_month"),
    "ecds": ("ethnic_category", "lsoa21", "birth_year_month"),
    "outpatients": ("ethnic_category", "lsoa21", "birth_year_month"),
    "csds": ("ethnic_category", "lsoa21", "birth_year_month"),
    "mhsds": ("ethnic_category", "lsoa21", "birth_year_month"),
    "asc_cld": ("ethnic_category", "lsoa21", "birth_year_month"),
}
ACTIVITY_DATES = {
    "gp_event": "event_date", "gp_medication": "issue_date", "apc_episode": "episode_start",
    "ae_attendance": "arrival_date", "op_appointment": "appointment_date", "community_contact": "contact_date",
    "mh_contact": "contact_date", "asc_event": "event_start",
}  # fmt: skip
#: Days from the activity to the end of the month of the extract it arrived in, in weeks then months.
LAG_BUCKETS = ("0-7 days", "8-14 days", "15-21 days", "22-31 days", "32-90 days", "over 90 days")
_LAG_CASE = (
    "CASE WHEN lag <= 7 THEN '0-7 days' WHEN lag <= 14 THEN '8-14 days' WHEN lag <= 21 THEN '15-21 days' "
    "WHEN lag <= 31 THEN '22-31 days' WHEN lag <= 90 THEN '32-90 days' ELSE 'over 90 days' END"
)


def _staged_view(con: duckdb.DuckDBPyConnection, view: str, files: list[str]) -> set[str]:
    """A temporary view over staged parquet files (the warehouse connection is read-only; temp objects
    live beside it); returns its columns."""
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM read_parquet([{listed}], union_by_name = true)"  # noqa: S608
    )
    return set(con.sql(f"SELECT * FROM {view} LIMIT 0").columns)  # noqa: S608 (fixed view name)


def completeness(con: duckdb.DuckDBPyConnection, home: Home) -> pl.DataFrame:
    """Share of each source's key fields filled, per source x practice: source, practice_code, rate.

    Records without a practice of their own take their person's registered practice from the
    warehouse `person` table behind `con`; rates over fewer than MIN_GROUP_ROWS records are null.
    """
    parts = []
    for source, wanted in COMPLETENESS_FIELDS.items():
        files = sorted_files(home.pseudo_staged(source))
        if not files:
            continue
        view = f"_dq_{source}"
        present = _staged_view(con, view, files)
        fields = [f for f in wanted if f in present]
        if not fields or not ({"practice_code", "person_token"} & present):
            continue
        practice = "r.practice_code" if "practice_code" in present else "p.practice_code"
        join = "" if "practice_code" in present else "LEFT JOIN person AS p USING (person_token)"
        filled = " + ".join(f"count(r.{f})" for f in fields)
        parts.append(
            con.sql(
                f"SELECT '{source}' AS source, {practice} AS practice_code, count(*) AS n, "  # noqa: S608 (fixed names)
                f"({filled}) AS filled, count(*) * {len(fields)} AS fields FROM {view} AS r {join} "
                f"WHERE {practice} IS NOT NULL GROUP BY ALL"
            ).pl()
        )
    if not parts:
        return pl.DataFrame(schema={"source": pl.String, "practice_code": pl.String, "rate": pl.Float64})
    out = pl.concat(parts, how="vertical_relaxed").with_columns(
        pl.col("n", "filled", "fields").cast(pl.Int64)
    )
    rate = published_rate("filled", "fields")
    return out.select(
        "source", "practice_code", pl.when(pl.col("n") >= MIN_GROUP_ROWS).then(rate).alias("rate")
    ).sort("source", "practice_code")


def ethnicity(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Share of people with a stated ethnic category per registered practice (`published_rate`; null
    under MIN_GROUP_ROWS)."""
    counts = con.sql(
        "SELECT practice_code, count(*) AS n, count(*) FILTER (WHERE ethnic_category IS NOT NULL "
        "AND ethnic_category NOT IN ('Z', '99')) AS stated "
        "FROM person WHERE practice_code IS NOT NULL GROUP BY ALL ORDER BY practice_code"
    ).pl()
    counts = counts.with_columns(pl.col("n", "stated").cast(pl.Int64))
    rate = pl.when(pl.col("n") >= MIN_GROUP_ROWS).then(published_rate("stated", "n"))
    return counts.select("practice_code", rate.alias("rate"))


def timeliness(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Share of each activity table's rows per lag bucket, from disclosure-controlled counts:
    table_name, lag, n_display, share (null where the count is suppressed). Each table's buckets are
    protected with the table's total (`protect_table`, secondary suppression included), and a share is
    a published count over the published total."""
    selects = [
        f"SELECT '{table}' AS table_name, date_diff('day', {col}, last_day(strptime("  # noqa: S608
        f"source_month || '-01', '%Y-%m-%d'))) AS lag "
        f"FROM {table} WHERE {col} IS NOT NULL AND regexp_matches(source_month, '^\\d{{4}}-\\d{{2}}$')"
        for table, col in ACTIVITY_DATES.items()
    ]
    counts = (
        con.sql(
            f"SELECT table_name, {_LAG_CASE} AS lag, count(*) AS n FROM ({' UNION ALL '.join(selects)}) "  # noqa: S608
            "GROUP BY ALL ORDER BY table_name, lag"
        )
        .pl()
        .with_columns(pl.col("n").cast(pl.Int64))
    )
    if counts.height == 0:
        return pl.DataFrame(
            schema={"table_name": pl.String, "lag": pl.String, "n_display": pl.String, "share": pl.Float64}
        )
    safe = protect_table(counts, ["table_name", "lag"], "n", total_over=["lag"])
    total = pl.col("n").filter(pl.col("total")).first().over("table_name")
    return (
        safe.with_columns((pl.col("n") / total).alias("share"))
        .filter(~pl.col("total"))
        .select("table_name", "lag", "n_display", "share")
    )


def failing_practices(con: duckdb.DuckDBPyConnection, home: Home, results: pl.DataFrame) -> pl.DataFrame:
    """For every by-practice check (kind group_rate) that did not pass: the practices below its rate.

    Columns: asset, expectation, practice_code, practice_name, records (published: rounded to 5),
    rate (`published_rate`: null where the filled or unfilled records are 1-7). Only practices with at least the check's `min_group_rows` records are judged, as by the check.
    """
    schema = {"asset": pl.String, "expectation": pl.String, "practice_code": pl.String,
              "practice_name": pl.String, "records": pl.String, "rate": pl.Float64}  # fmt: skip
    if results.height == 0:
        return pl.DataFrame(schema=schema)
    flagged = set(results.filter(pl.col("outcome") != "pass").select("asset", "expectation").iter_rows())
    parts = []
    for e in load_config().expectations:
        if e.kind != "group_rate" or e.group_by != "practice_code" or e.key not in flagged:
            continue
        if e.scope == "warehouse":
            relation = e.target
        else:
            files = sorted_files(home.pseudo_staged(e.target))
            if not files:
                continue
            relation = f"_dq_{e.target}"
            _staged_view(con, relation, files)
        column = e.columns[0]
        rows = (
            con.sql(
                f"SELECT practice_code, count(*) AS n, count({column}) AS filled "  # noqa: S608 (config names)
                f"FROM {relation} WHERE practice_code IS NOT NULL GROUP BY ALL "
                "HAVING count(*) >= $min_rows AND count("
                + column
                + ") / count(*) < $min_rate ORDER BY practice_code",
                params={"min_rows": e.min_group_rows, "min_rate": e.min_rate},
            )
            .pl()
            .with_columns(pl.col("n", "filled").cast(pl.Int64))
            .with_columns(published_rate("filled", "n").alias("rate"))
        )
        if rows.height:
            parts.append(round_and_suppress(rows, "n").with_columns(
                pl.lit(e.asset).alias("asset"), pl.lit(e.id).alias("expectation")))  # fmt: skip
    if not parts:
        return pl.DataFrame(schema=schema)
    names = con.sql("SELECT practice_code, practice_name FROM ref_practice").pl()
    return (
        pl.concat(parts, how="vertical_relaxed")
        .join(names, on="practice_code", how="left")
        .select(
            "asset",
            "expectation",
            "practice_code",
            "practice_name",
            pl.col("n_display").alias("records"),
            "rate",
        )  # fmt: skip
        .sort("asset", "expectation", "practice_code")
    )


def ics_label(con: duckdb.DuckDBPyConnection) -> str:
    """The ICS as the reference data names it: its places (there is no ICS name in the extracts)."""
    places = [
        p
        for (p,) in con.sql(
            "SELECT DISTINCT place FROM ref_practice WHERE place IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    return "ICS of " + ", ".join(places) if places else "ICS"
