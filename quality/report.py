"""The per-run data quality and coverage report: one self-contained HTML file, viewable offline.

Charts are inline SVG and HTML tables (no JavaScript, no CDN, no plotting dependency), so the file is
small, opens anywhere and can be attached to a ticket. Every figure is an aggregate: check counts,
rates per source/practice with small groups left blank, and the disclosure-protected coverage frame.
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb
import polars as pl

from core.files import write_public
from core.layout import Home
from linkage.linkage_quality import rates_markdown
from quality.coverage import coverage
from quality.expectations import has_table
from quality.history import load_history, load_linkage_rates

SECTIONS = (
    "Failing checks",
    "Check trend over loads",
    "Completeness by source and practice",
    "Ethnicity recording by practice",
    "Timeliness",
    "Coverage and bias",
    "Linkage",
)
MIN_GROUP_ROWS = 8  # rates over fewer rows are left blank (small numbers)
_SOURCES = ("gp_patients", "apc", "ecds", "outpatients", "csds", "mhsds", "asc_cld")
_COMPLETENESS_FIELDS = ("ethnic_category", "lsoa21", "birth_year_month")
_ACTIVITY_DATES = {
    "gp_event": "event_date", "gp_medication": "issue_date", "apc_episode": "episode_start",
    "ae_attendance": "arrival_date", "op_appointment": "appointment_date", "community_contact": "contact_date",
    "mh_contact": "contact_date", "asc_event": "event_start",
}  # fmt: skip
_LAG_BUCKETS = ("0-30 days", "31-90 days", "91-365 days", "over 365 days")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _colour(rate: float | None) -> str:
    """Red (0 %) to green (100 %); grey when blank."""
    if rate is None:
        return "#eeeeee"
    r = int(220 * (1 - rate) + 30)
    g = int(180 * rate + 40)
    return f"rgb({r},{g},70)"


def _heatmap(frame: pl.DataFrame, row: str, col: str, value: str) -> str:
    """An HTML-table heatmap (cells coloured by rate, labelled in %)."""
    if frame.height == 0:
        return "<p>No records.</p>"
    cols = sorted(frame[col].unique().to_list())
    rows = sorted(frame[row].unique().to_list())
    lookup = {(r[row], r[col]): r[value] for r in frame.iter_rows(named=True)}
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = lookup.get((r, c))
            label = "" if v is None else f"{100 * v:.0f}%"
            cells.append(f'<td style="background:{_colour(v)}">{label}</td>')
        body.append(f"<tr><th>{_e(r)}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="heat"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _bars(labels: list[str], values: list[float | None], *, width: int = 520) -> str:
    """Horizontal bar chart in SVG for rates 0-1."""
    h = 18
    parts = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = i * (h + 4)
        w = 0 if v is None else int((width - 160) * v)
        text = "n<8" if v is None else f"{100 * v:.0f}%"
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="12">{_e(label)}</text>'
            f'<rect x="110" y="{y}" width="{w}" height="{h}" fill="{_colour(v)}"/>'
            f'<text x="{115 + w}" y="{y + 13}" font-size="11">{text}</text>'
        )
    return f'<svg width="{width}" height="{len(labels) * (h + 4)}" role="img">{"".join(parts)}</svg>'


def _sparkline(values: list[float | None], *, width: int = 160, height: int = 30) -> str:
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if not pts:
        return ""
    lo = min(v for _, v in pts)
    span = max(max(v for _, v in pts) - lo, 1e-9)
    step = width / max(len(values) - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for i, v in pts)
    return (
        f'<svg width="{width}" height="{height}" role="img"><polyline fill="none" stroke="#1f77b4" '
        f'stroke-width="2" points="{coords}"/></svg>'
    )


def _completeness(home: Home) -> pl.DataFrame:
    """Share of the key demographic fields filled, per source x practice (pseudonymised staged records)."""
    con = duckdb.connect()
    parts = []
    for source in _SOURCES:
        files = sorted(str(p) for p in home.pseudo_staged(source).glob("*.parquet"))
        if not files:
            continue
        rel = con.read_parquet(files, union_by_name=True)
        present = set(rel.columns)
        fields = [f for f in _COMPLETENESS_FIELDS if f in present]
        if not fields or "practice_code" not in present:
            continue
        rel.create_view("_staged", replace=True)
        filled = " + ".join(f"count({f})" for f in fields)
        frame = con.sql(
            f"SELECT '{source}' AS source, practice_code, count(*) AS n, "  # noqa: S608 (fixed names)
            f"({filled}) / (count(*) * {len(fields)}) AS rate FROM _staged "
            "WHERE practice_code IS NOT NULL GROUP BY ALL"
        ).pl()
        parts.append(frame)
    con.close()
    if not parts:
        return pl.DataFrame(schema={"source": pl.String, "practice_code": pl.String, "rate": pl.Float64})
    out = pl.concat(parts, how="vertical_relaxed")
    return out.with_columns(pl.when(pl.col("n") >= MIN_GROUP_ROWS).then(pl.col("rate")).alias("rate"))


def _ethnicity(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.sql(
        "SELECT practice_code, count(*) AS n, "
        "count(*) FILTER (WHERE ethnic_category IS NOT NULL AND ethnic_category NOT IN ('Z', '99')) / count(*) "
        "AS rate FROM person WHERE practice_code IS NOT NULL GROUP BY ALL ORDER BY practice_code"
    ).pl()


def _timeliness(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rows per lag bucket: days from the activity date to the end of the month of the file it came in."""
    selects = []
    for table, col in _ACTIVITY_DATES.items():
        selects.append(
            f"SELECT '{table}' AS table_name, date_diff('day', {col}, last_day(strptime("  # noqa: S608
            f"source_month || '-01', '%Y-%m-%d'))) AS lag "
            f"FROM {table} WHERE {col} IS NOT NULL AND regexp_matches(source_month, '^\\d{{4}}-\\d{{2}}$')"
        )
    bucket = (
        "CASE WHEN lag <= 30 THEN '0-30 days' WHEN lag <= 90 THEN '31-90 days' "
        "WHEN lag <= 365 THEN '91-365 days' ELSE 'over 365 days' END"
    )
    return con.sql(
        f"SELECT table_name, {bucket} AS lag, count(*) AS n FROM ({' UNION ALL '.join(selects)}) "  # noqa: S608
        "GROUP BY ALL ORDER BY table_name, lag"
    ).pl()


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px} table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px;text-align:right} th{background:#f4f4f4}
.heat td{min-width:38px;color:#fff} .fail{color:#b00020;font-weight:bold} .warn{color:#a15c00}
"""


def write_report(con: duckdb.DuckDBPyConnection, home: Home, *, run_id: str) -> Path:
    """Write `home.dq_report(run_id)` from the warehouse behind `con` (with its dq_results) and the
    history of `home`; return the path."""
    results = con.sql("SELECT * FROM dq_results").pl() if has_table(con, "dq_results") else pl.DataFrame()
    history = load_history(home)
    body = [f"<h1>Data quality report, run {_e(run_id)}</h1>"]

    body.append(f"<h2>{SECTIONS[0]}</h2>")
    if results.height:
        summary = results.group_by("outcome").len().sort("outcome")
        body.append(_table(summary))
        failing = results.filter(pl.col("outcome") != "pass").select(
            "asset", "expectation", "category", "severity", "outcome", "rows_evaluated", "rows_failed",
            "pass_pct", "threshold",
        )  # fmt: skip
        body.append(_table(failing) if failing.height else "<p>Every check passed.</p>")
    else:
        body.append("<p>No dq_results in this warehouse.</p>")

    body.append(f"<h2>{SECTIONS[1]}</h2>")
    if history.height and results.height:
        flagged = results.filter(pl.col("outcome") != "pass").select("asset", "expectation").unique()
        runs = history.select("run_id", "run_at").unique().sort("run_at")["run_id"].to_list()
        rows = []
        for asset, exp in flagged.sort("asset", "expectation").iter_rows():
            mine = history.filter((pl.col("asset") == asset) & (pl.col("expectation") == exp))
            by_run = dict(zip(mine["run_id"].to_list(), mine["pass_pct"].to_list(), strict=True))
            series = [by_run.get(r) for r in runs]
            last = f"{series[-1]:.2f}%" if series and series[-1] is not None else ""
            rows.append(
                f"<tr><td>{_e(asset)}</td><td>{_e(exp)}</td><td>{_sparkline(series)}</td><td>{last}</td></tr>"
            )
        body.append(
            f"<p>{len(runs)} load(s) in the history. Pass % per load for the checks flagged now.</p>"
            "<table><thead><tr><th>asset</th><th>expectation</th><th>pass % over loads</th><th>now</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )
    else:
        body.append("<p>No history yet.</p>")

    body.append(f"<h2>{SECTIONS[2]}</h2>")
    body.append(f"<p>Share of {', '.join(_COMPLETENESS_FIELDS)} filled; blank where a practice has fewer than "
                f"{MIN_GROUP_ROWS} records in the source.</p>")  # fmt: skip
    body.append(_heatmap(_completeness(home), "practice_code", "source", "rate"))

    body.append(f"<h2>{SECTIONS[3]}</h2>")
    eth = _ethnicity(con).with_columns(
        pl.when(pl.col("n") >= MIN_GROUP_ROWS).then(pl.col("rate")).alias("rate")
    )
    body.append("<p>People with a stated ethnic category (not blank, Z or 99), by registered practice.</p>")
    body.append(
        _bars(eth["practice_code"].to_list(), eth["rate"].to_list()) if eth.height else "<p>None.</p>"
    )

    body.append(f"<h2>{SECTIONS[4]}</h2>")
    lag = _timeliness(con)
    if lag.height:
        shares = lag.with_columns((pl.col("n") / pl.col("n").sum().over("table_name")).alias("rate"))
        body.append("<p>Days from the activity date to the end of the extract month it arrived in.</p>")
        body.append(_heatmap(shares, "table_name", "lag", "rate"))
    else:
        body.append("<p>No activity.</p>")

    body.append(f"<h2>{SECTIONS[5]}</h2>")
    body.append("<p>Counts 1-7 suppressed (*), others rounded to 5; totals from unrounded counts.</p>")
    cov = coverage(con)
    for (measure, dimension), part in cov.group_by(["measure", "dimension"], maintain_order=True):
        body.append(f"<h3>{_e(measure)} by {_e(dimension)}</h3>")
        body.append(_table(part.select("value", "n_display")))

    body.append(f"<h2>{SECTIONS[6]}</h2>")
    body.append(
        "<p>Records of the feeds that can arrive without an NHS number: the share that arrived without a "
        "valid one, and of those the share traced exactly, probabilistically or left unmatched (with a "
        "persistent pseudo-ID), by source, ethnic group and IMD quintile (1 = most deprived). Counts 1-7 "
        "suppressed (*), others rounded to 5; shares from the published counts.</p>"
    )
    body.append(_linkage_table(load_linkage_rates(home, run_id, con)))

    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>DQ {_e(run_id)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    return write_public(home.dq_report(run_id), page.encode("utf-8"))


def _linkage_table(rates: pl.DataFrame) -> str:
    if rates.height == 0:
        return "<p>No traced feeds.</p>"
    shown = rates.select(
        "dimension", "value",
        pl.col("records_display").alias("records"),
        pl.col("no_valid_nhs_display").alias("no valid NHS no."),
        pl.col("no_valid_nhs_pct").alias("no valid NHS no. %"),
        pl.col("traced_exact_display").alias("exact"),
        pl.col("exact_pct").alias("exact %"),
        pl.col("traced_probabilistic_display").alias("probabilistic"),
        pl.col("probabilistic_pct").alias("probabilistic %"),
        pl.col("unmatched_display").alias("unmatched"),
        pl.col("unmatched_pct").alias("unmatched %"),
    )  # fmt: skip
    return _table(shown.with_columns(pl.col(pl.Float64).cast(pl.String).fill_null("*")))


def linkage_markdown(con: duckdb.DuckDBPyConnection, home: Home, run_id: str) -> str:
    """The run's linkage rates as a Markdown table (for Dagster metadata)."""
    return rates_markdown(load_linkage_rates(home, run_id, con))
