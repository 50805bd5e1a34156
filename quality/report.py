"""The per-run data quality and coverage report (HTML, offline), rendered with `reports`.

The figures come from `quality.report_data` and `quality.coverage` (aggregates only, counts through
`core.disclosure`, rates from published counts); this module puts them in the order a reader needs them, with readable names, and
writes `dq_<run id>.html` plus a stable `dq_latest.html` beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from core.disclosure import published_rate, round_and_suppress
from core.layout import Home
from linkage.linkage_quality import rates_markdown
from quality import report_data as data
from quality.expectations import has_table
from quality.history import load_history, load_linkage_rates
from reports import charts, render, write_page

SECTIONS = (
    "Failing checks",
    "Practices behind the by-practice checks",
    "Check trend over loads",
    "Completeness by source and practice",
    "Ethnicity recording by practice",
    "Timeliness",
    "Coverage and bias",
    "Linkage",
)
MIN_GROUP_ROWS = data.MIN_GROUP_ROWS
_MEASURES = {
    "no_gp_data": "People at practices that do not share GP data",
    "not_traced": "People not traced (persistent pseudo-ID)",
    "registered": "People in the warehouse",
    "opted_out": "Records removed by opt-outs",
    "quarantined": "Rows quarantined by the connectors",
    "not_traced_rows": "Activity rows without a traced person",
}
_DIMENSIONS = {"imd_quintile": "IMD quintile (1 = most deprived)", "ethnic_group": "ethnic group"}


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}%"


def _published_pass_pct() -> pl.Expr:
    """`pass_pct` recomputed from the published counts (`core.disclosure.published_rate`)."""
    evaluated = pl.col("rows_evaluated").cast(pl.Int64)
    passed = evaluated - pl.col("rows_failed").cast(pl.Int64)
    return (100 * published_rate(passed, evaluated)).alias("pass_pct")


def _checks(results: pl.DataFrame) -> tuple[list[list[str]], list[list[str]]]:
    # checks per outcome: a count of checks, not of people or records, so shown as it is
    summary = [[o, str(n)] for o, n in results.group_by("outcome").len().sort("outcome").iter_rows()]
    # Row counts of a check can count people: published like any other count (1-7 *, others to 5).
    flagged = results.filter(pl.col("outcome") != "pass").sort("asset", "expectation")
    # The pass % too: from the published counts, blank where the passed, failed or evaluated are 1-7
    # (an exact pass % beside a rounded row count would give the failed rows back).
    flagged = flagged.with_columns(_published_pass_pct())
    flagged = round_and_suppress(
        round_and_suppress(flagged, "rows_evaluated").drop("suppression"), "rows_failed"
    )
    failing = [
        [r["asset"], r["expectation"], r["category"], r["severity"], r["outcome"], r["rows_evaluated_display"],
         r["rows_failed_display"], _pct(r["pass_pct"], 2), _pct(100 * (1 - r["threshold"]), 0)]
        for r in flagged.iter_rows(named=True)
    ]  # fmt: skip
    return summary, failing


def _trend(results: pl.DataFrame, history: pl.DataFrame) -> charts.Figure | None:
    if not (history.height and results.height):
        return None
    flagged = results.filter(pl.col("outcome") != "pass").select("asset", "expectation").unique()
    runs = history.select("run_id", "run_at").unique().sort("run_at")
    labels = [f"{at:%d %b %H:%M}" for at in runs["run_at"]]
    series = {}
    history = history.with_columns(_published_pass_pct())
    for asset, exp in flagged.sort("asset", "expectation").iter_rows():
        mine = history.filter((pl.col("asset") == asset) & (pl.col("expectation") == exp))
        by_run = dict(zip(mine["run_id"].to_list(), mine["pass_pct"].to_list(), strict=True))
        series[f"{asset} {exp}"] = [by_run.get(r) for r in runs["run_id"]]
    if not series:
        return None
    return charts.lines(series, x=labels, title="Pass % per load, checks not passing now", y_title="pass %")


def _heatmap(frame: pl.DataFrame) -> charts.Figure | None:
    if frame.height == 0:
        return None
    sources = [s for s in data.COMPLETENESS_FIELDS if s in set(frame["source"])]
    practices = sorted(set(frame["practice_code"]))
    look = {(r["source"], r["practice_code"]): r["rate"] for r in frame.iter_rows(named=True)}
    z = [[look.get((s, p)) for s in sources] for p in practices]
    zmin = charts.rate_floor([v for row in z for v in row])
    return charts.heatmap(z, x=sources, y=practices, title="Key fields filled, by source and practice",
                          zmin=zmin, zmax=1.0, scale_title="filled")  # fmt: skip


def _timeliness(frame: pl.DataFrame) -> charts.Figure | None:
    if frame.height == 0:
        return None
    tables = sorted(set(frame["table_name"]))
    look = {(r["table_name"], r["lag"]): r["share"] for r in frame.iter_rows(named=True)}
    series = {b: [look.get((t, b), 0.0) for t in tables] for b in data.LAG_BUCKETS}
    return charts.bars(series, x=tables, title="How long after the activity its record arrived",
                       stacked=True, horizontal=True, percent=True, y_title="share of rows")  # fmt: skip


def _coverage(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[list[str]]]]:
    from quality.coverage import coverage

    out = []
    for (measure, dimension), part in coverage(con).group_by(["measure", "dimension"], maintain_order=True):
        heading = (
            f"{_MEASURES.get(str(measure), str(measure))}, by {_DIMENSIONS.get(str(dimension), dimension)}"
        )
        out.append((heading, [[str(v), str(n)] for v, n in part.select("value", "n_display").iter_rows()]))
    return out


_LINKAGE = {
    "records_display": "records", "no_valid_nhs_display": "no valid NHS number",
    "no_valid_nhs_pct": "no valid NHS number %", "traced_exact_display": "traced exactly", "exact_pct": "exact %",
    "traced_probabilistic_display": "traced probabilistically", "probabilistic_pct": "probabilistic %",
    "traced_national_display": "traced nationally (DBS)", "national_pct": "national %",
    "clustered_display": "clustered into a person", "clustered_pct": "clustered %",
    "unmatched_display": "unmatched", "unmatched_pct": "unmatched %",
}  # fmt: skip


def _linkage(rates: pl.DataFrame) -> tuple[list[str], list[list[str]]]:
    head = ["dimension", "value", *_LINKAGE.values()]
    if rates.height == 0:
        return head, []
    shown = rates.select("dimension", "value", *_LINKAGE).with_columns(
        pl.col(pl.Float64).round(1).cast(pl.String).fill_null("*")
    )
    return head, [[str(c) for c in row] for row in shown.iter_rows()]


def write_report(
    con: duckdb.DuckDBPyConnection, home: Home, *, run_id: str, now: datetime | None = None
) -> Path:
    """Write `home.dq_report(run_id)` and `home.dq_report("latest")` from the warehouse behind `con`
    (with its dq_results) and the history of `home`; return the run's path."""
    results = con.sql("SELECT * FROM dq_results").pl() if has_table(con, "dq_results") else pl.DataFrame()
    when = (now or datetime.now(UTC)).astimezone(UTC)
    summary, failing = _checks(results) if results.height else ([], [])
    practices = data.failing_practices(con, home, results)
    eth = data.ethnicity(con)
    context = {
        "title": f"Data quality report — {data.ics_label(con)} — {when:%d %B %Y}",
        "run_id": run_id,
        "generated": f"{when:%d %B %Y %H:%M} UTC",
        "assets": "assets",
        "sections": SECTIONS,
        "has_results": bool(results.height),
        "summary": summary,
        "failing": failing,
        "practices": [
            [
                r["asset"],
                r["expectation"],
                r["practice_code"],
                r["practice_name"] or "",
                r["records"],
                _pct(None if r["rate"] is None else 100 * r["rate"], 0),  # blank: a count behind it is small
            ]
            for r in practices.iter_rows(named=True)
        ],  # fmt: skip
        "trend": _trend(results, load_history(home)),
        "heatmap": _heatmap(data.completeness(con, home)),
        "min_rows": MIN_GROUP_ROWS,
        "ethnicity": charts.bars(
            {"stated": eth["rate"].to_list()},
            x=eth["practice_code"].to_list(),
            title="People with a stated ethnic category",
            percent=True,
            horizontal=True,
            y_title="share of people",
        )
        if eth.height
        else None,  # fmt: skip
        "timeliness": _timeliness(data.timeliness(con)),
        "coverage": _coverage(con),
        "linkage": _linkage(load_linkage_rates(home, run_id, con)),
    }
    page = render("dq_report.html.j2", **context)
    path = write_page(home.dq_report(run_id), page, assets=home.reports)
    write_page(home.dq_report("latest"), page)
    return path


def linkage_markdown(con: duckdb.DuckDBPyConnection, home: Home, run_id: str) -> str:
    """The run's linkage rates as a Markdown table (for Dagster metadata)."""
    return rates_markdown(load_linkage_rates(home, run_id, con))
