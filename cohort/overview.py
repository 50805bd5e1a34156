"""The population health overview site: `HOME/reports/site/index.html` and a dated copy per load.

Figures per area (the ICS, each place, PCN and practice) come from `cohort.overview_data` (protected
aggregates only) and the DQ completeness rates (`quality.report_data`); this module turns them into
charts and writes the page with `reports`. A reader's filter swaps every chart to the chosen area's
figures, all embedded in the page: nothing is computed in the browser. Cohort sizes are kept across
loads in `site/cohort_sizes.json` (published counts only) for the trend chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from cohort import overview_data as data
from cohort.segments import SEGMENTS
from cohort.tiers import TIERS
from core.files import write_public
from core.layout import Home
from core.tables import markdown_table
from quality.report_data import COMPLETENESS_FIELDS, completeness
from reports import charts, render, write_page

CHARTS = ("pyramid", "tiers", "segments", "ltc", "emergency", "missing", "dq", "cohorts")
CAPTIONS = {
    "pyramid": "Registered, living people by age band and sex. Shows the shape of the population the services "
    "plan for; it cannot show people not registered with a practice in the ICS.",
    "tiers": "People in each risk tier of the Kaiser pyramid, from the model's predicted risk of an emergency "
    "admission in the next year. Tiers are set by rank across the ICS (the top 0.5 % very high, the next 4.5 % "
    "high, the next 15 % moderate); a risk is a prediction, not a diagnosis.",
    "segments": "People in each Bridges to Health segment, by PCN. Segments group people by what they need "
    "(healthy, long-term conditions, frailty ...); a person with no GP data may be placed too low.",
    "ltc": "People with at least one long-term condition per 1,000, by IMD quintile (1 = most deprived) and "
    "ethnic group, with 95 % Wilson score intervals. Conditions come from GP records, so practices that do "
    "not share GP data lower the figure; it cannot show undiagnosed conditions.",
    "emergency": "Emergency admissions in the last 12 months per 1,000 people, by IMD quintile and ethnic group, "
    "with 95 % intervals (Byar's method for a Poisson count). Admissions to hospitals outside the ICS are not "
    "seen; differences can reflect need, access or recording.",
    "missing": "Who the data cannot see well, by place: people at practices that do not share GP data, records "
    "removed because people opted out, and people no feed could trace to an NHS number. These groups are "
    "missing from or under-counted in every other chart.",
    "dq": "Share of each source's key fields filled, by practice. The colour scale starts just below the "
    "lowest rate seen, so differences show; blank: fewer than 8 records. It says how complete records are, "
    "not whether they are right.",
    "cohorts": "People in each cohort at each load. A change can be real or come from a change in the data "
    "(a late or missing extract); check the data quality report for the same load.",
}


def _series(
    frame: pl.DataFrame, x_col: str, x: list[str], group_col: str, groups: list[str]
) -> dict[str, list[Any]]:
    look = {(r[group_col], r[x_col]): r["n"] for r in frame.iter_rows(named=True)}
    return {g: [look.get((g, v)) for v in x] for g in groups if any(look.get((g, v)) for v in x)}


# One chart's estimates: dimension label -> (categories, values, lows, highs).
Estimates = dict[str, tuple[list[str], list[Any], list[Any], list[Any]]]


def _estimates(cells: data.Cells, area: data.Area) -> dict[str, Estimates]:
    """measure ("ltc", "emergency") -> its `Estimates`.

    Both measures come from one `rates_by` per dimension: its protected tables serve both."""
    out: dict[str, Estimates] = {"ltc": {}, "emergency": {}}
    for label, dim in (("IMD quintile", "imd_quintile"), ("ethnic group", "ethnic_group")):
        both = data.rates_by(cells, area, dim)
        for measure, by_dim in out.items():
            rates = both.filter(pl.col("measure") == measure)
            by_dim[label] = (
                [f"{label.split()[0]} {v}" if dim == "imd_quintile" else str(v) for v in rates[dim]],
                rates["value"].to_list(), rates["low"].to_list(), rates["high"].to_list(),
            )  # fmt: skip
    return out


def _figures(cells: data.Cells, area: data.Area, places: dict[str, str], pcn_of: dict[str, str],
             dq: pl.DataFrame, history: list[dict[str, Any]]) -> tuple[dict[str, charts.Figure], dict[str, str]]:  # fmt: skip
    cells = data.within(cells, area)  # every table below reads only this area's practices
    people = data.people_table(cells, area, ["age_band", "sex"])
    bands = list(data.AGE_BANDS)
    by_sex = _series(people, "age_band", bands, "sex", ["male", "female"])
    tiers = data.people_table(cells, area, ["risk_tier"])
    tier_n = {r["risk_tier"]: r["n"] for r in tiers.iter_rows(named=True)}
    people_pcn = cells.people.with_columns(
        pl.col("practice_code").replace_strict(pcn_of, default="unknown").alias("pcn")
    )
    segments = data.protected(people_pcn, ["segment", "pcn"])
    pcns = sorted(set(segments["pcn"]))
    missing = data.missing_table(cells, area, places)
    mplaces = sorted(set(missing["place"]))
    mine = dq.filter(pl.col("practice_code").is_in(sorted(area.practices)))
    sources = [s for s in COMPLETENESS_FIELDS if s in set(mine["source"])]
    practices = sorted(set(mine["practice_code"]))
    look = {(r["source"], r["practice_code"]): r["rate"] for r in mine.iter_rows(named=True)}
    z = [[look.get((s, p)) for s in sources] for p in practices]
    zmin = charts.rate_floor([v for row in z for v in row])
    loads = [h["load"] for h in history]
    cohort_ids = sorted({c for h in history for c in h["sizes"].get(area.key, {})})
    estimates = _estimates(cells, area)
    figures = {
        "pyramid": charts.pyramid(bands, by_sex.get("male", [None] * len(bands)), by_sex.get("female", [None] * len(bands)),
                                  names=("male", "female"), title="Age and sex"),
        "tiers": charts.bars({"people": [tier_n.get(t) for t in TIERS]}, x=list(TIERS), title="Risk pyramid (Kaiser tiers)",
                             horizontal=True, y_title="people"),
        "segments": charts.bars(_series(segments, "pcn", pcns, "segment", [*SEGMENTS, "not segmented"]), x=pcns,
                                title="Bridges to Health segments by PCN", stacked=True, y_title="people", x_title="PCN"),
        "ltc": charts.estimates(estimates["ltc"], title="Long-term condition prevalence per 1,000",
                                y_title="per 1,000 people"),
        "emergency": charts.estimates(estimates["emergency"], title="Emergency admissions per 1,000 (12 months)",
                                      y_title="per 1,000 people"),
        "missing": charts.bars(_series(missing, "place", mplaces, "measure", sorted(set(missing["measure"]))), x=mplaces,
                               title="Who is missing, by place", y_title="people or records", x_title="place"),
        "dq": charts.heatmap(z, x=sources, y=practices, title="Data completeness by source and practice", zmin=zmin,
                             zmax=1.0, scale_title="filled"),
        "cohorts": charts.lines({c: [h["sizes"].get(area.key, {}).get(c) for h in history] for c in cohort_ids}, x=loads,
                                title="Cohort sizes over loads", y_title="people"),
    }  # fmt: skip
    headline = {"People registered": data.published_total(cells, area),
                "Very high or high risk": data.published_total(cells, area, risk_tiers=TIERS[:2]),
                "Practices": f"{len(area.practices):,}"}  # fmt: skip
    return figures, headline


def _history(site: Path, label: str, sizes: dict[str, dict[str, int | None]]) -> list[dict[str, Any]]:
    path = site / "cohort_sizes.json"
    history: list[dict[str, Any]] = json.loads(path.read_text("utf-8")) if path.exists() else []
    history = [h for h in history if h["load"] != label] + [{"load": label, "sizes": sizes}]
    write_public(path, json.dumps(history, sort_keys=True, indent=1).encode("utf-8"))
    return history


@dataclass(frozen=True)
class Site:
    """What `write_site` wrote: the stable page, its dated copy and the ICS headline as Markdown."""

    index: Path
    dated: Path
    headline_markdown: str


def write_site(con: duckdb.DuckDBPyConnection, home: Home, *, now: datetime | None = None) -> Site:
    """Write `HOME/reports/site/index.html` and `site/history/<load time>.html` from the warehouse behind
    `con`."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    label = f"{when:%Y-%m-%d %H:%M}"
    cells = data.read_cells(con)
    area_list = data.areas(con)
    ref = con.sql(
        "SELECT practice_code, coalesce(place, 'unknown'), coalesce(pcn_code, 'unknown') FROM ref_practice"
    ).fetchall()
    places = {p: pl_ for p, pl_, _ in ref}
    pcn_of = {p: c for p, _, c in ref}
    site = home.reports / "site"
    sizes = {
        a.key: {str(r["cohort_id"]): r["n"] for r in data.cohort_table(cells, a).iter_rows(named=True)}
        for a in area_list
    }
    history = _history(site, label, sizes)
    dq = completeness(con, home)
    figures, headlines = {}, {}
    for area in area_list:
        figures[area.key], headlines[area.key] = _figures(cells, area, places, pcn_of, dq, history)
    context = {
        "title": f"Population health overview — {when:%d %B %Y}",
        "generated": f"{when:%d %B %Y %H:%M} UTC",
        "charts": CHARTS, "captions": CAPTIONS, "figures": figures, "headlines": headlines,
        "filters": {kind: [(a.key, a.label) for a in area_list if a.kind == kind] for kind in ("place", "pcn", "practice")},
    }  # fmt: skip
    index = write_page(
        site / "index.html", render("overview.html.j2", assets="../assets", **context), assets=home.reports
    )
    dated = write_page(site / "history" / f"{when:%Y-%m-%dT%H%M}.html",
                       render("overview.html.j2", assets="../../assets", **context))  # fmt: skip
    headline = markdown_table(["figure", "whole ICS"], [[k, v] for k, v in headlines["all"].items()])
    return Site(index, dated, headline)
