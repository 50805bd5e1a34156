"""The overview site's figures: disclosure-controlled aggregates of the warehouse, per area.

An area is the whole ICS, one place, one PCN or one practice. The warehouse is summarised once, in
DuckDB, to practice-level cells (counts of people by age band, sex, deprivation, ethnic group, risk
tier and segment; emergency admissions; who is missing); nothing finer leaves the query and the cells
are never written anywhere. Every table an area shows is then built from those cells and made safe with
`core.disclosure` (1-7 suppressed, others rounded to 5, totals from unrounded counts, secondary
suppression), and rates are computed from the published counts, so a page can never show more than its
tables.

Confidence intervals: Wilson score intervals for prevalence (a proportion), Byar's approximation for
rates of emergency admissions (a Poisson count); both at 95 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import polars as pl

from core.disclosure import protect_table, round_and_suppress

Z95 = 1.959963984540054
AGE_BANDS = ("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+")
_CELLS_SQL = """
SELECT f.practice_code,
       CASE WHEN f.age >= 90 THEN '90+' ELSE CAST(f.age // 10 * 10 AS VARCHAR) || '-' || CAST(f.age // 10 * 10 + 9 AS VARCHAR) END AS age_band,
       CASE f.sex WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' ELSE 'other or not known' END AS sex,
       coalesce(CAST((f.imd_decile + 1) // 2 AS VARCHAR), 'unknown') AS imd_quintile,
       coalesce(f.ethnic_group, 'unknown') AS ethnic_group,
       coalesce(r.risk_tier, 'not scored') AS risk_tier,
       coalesce(r.segment, 'not segmented') AS segment,
       f.ltc_count > 0 AS has_ltc,
       count(*)::BIGINT AS n,
       sum(f.emergency_admissions_12m)::BIGINT AS emergency
FROM features AS f LEFT JOIN risk_score AS r USING (person_token)
WHERE f.registered AND f.alive AND f.practice_code IS NOT NULL AND f.age IS NOT NULL
GROUP BY ALL
"""
_MISSING_SQL = """
SELECT practice_code, 'at practices not sharing GP data' AS measure, count(*)::BIGINT AS n
FROM person WHERE gp_data_shared = false AND practice_code IS NOT NULL GROUP BY ALL
UNION ALL
SELECT practice_code, 'not traced (pseudo-ID)', count(*)::BIGINT FROM person
WHERE link_method = 'unmatched' AND practice_code IS NOT NULL GROUP BY ALL
"""
# The warehouse publishes opt-outs per practice, PCN and place already protected as one hierarchy
# (`opt_out_by_area`); an area takes its own node as published, never a sum of its practices.
OPT_OUT_MEASURE = "records removed by opt-outs"
_OPT_OUT_SQL = (
    "SELECT level, area, rows AS n, rows_display AS n_display FROM opt_out_by_area WHERE level <> 'ics'"
)
_OPT_OUT_SCHEMA = {"level": pl.String, "area": pl.String, "n": pl.Int64, "n_display": pl.String}
_COHORT_SQL = """
SELECT f.practice_code, c.cohort_id, count(DISTINCT c.person_token)::BIGINT AS n
FROM cohort_member AS c JOIN features AS f USING (person_token) WHERE f.practice_code IS NOT NULL GROUP BY ALL
"""


@dataclass(frozen=True)
class Area:
    """A filter choice: `key` ("all", "place:<name>", "pcn:<code>", "practice:<code>") and its practices."""

    key: str
    kind: str
    label: str
    practices: frozenset[str]


@dataclass(frozen=True)
class Cells:
    """Practice-level cells of the warehouse (unrounded, in memory only; see the module docstring)."""

    people: pl.DataFrame
    missing: pl.DataFrame
    cohorts: pl.DataFrame
    opt_outs: pl.DataFrame  # published already: level (practice, pcn, place), area, n, n_display


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {t for (t,) in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}


def read_cells(con: duckdb.DuckDBPyConnection) -> Cells:
    """The practice-level cells of the warehouse behind `con`."""
    tables = _tables(con)
    opt_outs = (
        con.sql(_OPT_OUT_SQL).pl().cast(_OPT_OUT_SCHEMA)
        if "opt_out_by_area" in tables
        else pl.DataFrame(schema=_OPT_OUT_SCHEMA)
    )
    cohorts = (
        con.sql(_COHORT_SQL).pl()
        if "cohort_member" in tables
        else pl.DataFrame(schema={"practice_code": pl.String, "cohort_id": pl.String, "n": pl.Int64})
    )
    return Cells(con.sql(_CELLS_SQL).pl(), con.sql(_MISSING_SQL).pl(), cohorts, opt_outs)


def areas(con: duckdb.DuckDBPyConnection) -> list[Area]:
    """Every area a reader can choose: the ICS, its places, PCNs and practices (reference data)."""
    ref = con.sql(
        "SELECT practice_code, coalesce(practice_name, practice_code) AS practice_name, pcn_code, "
        "coalesce(pcn_name, pcn_code) AS pcn_name, place FROM ref_practice ORDER BY place, pcn_code, practice_code"
    ).pl()
    out = [Area("all", "all", "Whole ICS", frozenset(ref["practice_code"]))]
    for (place,), part in ref.filter(pl.col("place").is_not_null()).group_by(["place"], maintain_order=True):
        out.append(Area(f"place:{place}", "place", str(place), frozenset(part["practice_code"])))
    for (pcn, name), part in ref.filter(pl.col("pcn_code").is_not_null()).group_by(
        ["pcn_code", "pcn_name"], maintain_order=True
    ):
        out.append(Area(f"pcn:{pcn}", "pcn", f"{name} ({pcn})", frozenset(part["practice_code"])))
    for code, name in ref.select("practice_code", "practice_name").iter_rows():
        out.append(Area(f"practice:{code}", "practice", f"{name} ({code})", frozenset([code])))
    return out


def _in(frame: pl.DataFrame, area: Area) -> pl.DataFrame:
    return frame.filter(pl.col("practice_code").is_in(sorted(area.practices)))


def within(cells: Cells, area: Area) -> Cells:
    """`cells` restricted to `area`'s practices, made once per area: every table of this module gives the
    same figures from it as from the whole `cells` (they filter again, now over the area's rows only)."""
    return Cells(_in(cells.people, area), _in(cells.missing, area), _in(cells.cohorts, area), cells.opt_outs)


def protected(frame: pl.DataFrame, by: list[str], value: str = "n") -> pl.DataFrame:
    """Sum `value` over `by` and protect the table (cells only, totals dropped): by..., n, n_display."""
    # Sorted: secondary suppression picks among cells in the order it sees them, and group_by's order
    # varies from run to run; unsorted, the same warehouse gave a different page each time.
    counts = frame.group_by(by).agg(pl.col(value).sum().cast(pl.Int64).alias("n")).sort(by)
    if counts.height == 0:
        return counts.with_columns(pl.lit(None, pl.String).alias("n_display"))
    safe = protect_table(counts, by, "n")
    return safe.filter(~pl.col("total")).select(*by, "n", "n_display")


def people_table(cells: Cells, area: Area, by: list[str]) -> pl.DataFrame:
    """People in `area` by the columns `by`, protected."""
    return protected(_in(cells.people, area), by)


def _opt_out_rows(cells: Cells, area: Area, places: dict[str, str]) -> pl.DataFrame:
    """The published opt-out count of `area` (per place for the whole ICS): measure, place, n, n_display."""
    kind, _, code = area.key.partition(":")
    level = {"all": "place", "place": "place", "pcn": "pcn", "practice": "practice"}[kind]
    rows = cells.opt_outs.filter(pl.col("level") == level)
    if kind != "all":
        rows = rows.filter(pl.col("area") == code)
    place = (
        pl.col("area")
        if level == "place"
        else pl.lit(next((places[p] for p in sorted(area.practices) if p in places), "unknown"))
    )
    return rows.select(pl.lit(OPT_OUT_MEASURE).alias("measure"), place.alias("place"), "n", "n_display")


def missing_table(cells: Cells, area: Area, places: dict[str, str]) -> pl.DataFrame:
    """Who is missing in `area`, by measure and place (each measure its own protected table; opt-outs
    as the warehouse publishes them)."""
    frame = _in(cells.missing, area).with_columns(
        pl.col("practice_code").replace_strict(places, default="unknown").alias("place")
    )
    parts = [
        protected(part, ["measure", "place"]) for _, part in frame.group_by("measure", maintain_order=True)
    ]
    parts.append(_opt_out_rows(cells, area, places))
    return pl.concat(parts, how="vertical_relaxed")


def published_total(cells: Cells, area: Area, *, risk_tiers: tuple[str, ...] | None = None) -> str:
    """People in `area` (in `risk_tiers`, if given) as published: from the unrounded cells, then
    suppressed or rounded (never a sum of rounded cells)."""
    people = _in(cells.people, area)
    if risk_tiers is not None:
        people = people.filter(pl.col("risk_tier").is_in(list(risk_tiers)))
    frame = pl.DataFrame({"n": [int(people["n"].sum())]}, schema={"n": pl.Int64})
    return str(round_and_suppress(frame, "n")["n_display"][0])


def cohort_table(cells: Cells, area: Area) -> pl.DataFrame:
    """Cohort sizes in `area`, each a published count (primary suppression and rounding)."""
    counts = (
        _in(cells.cohorts, area).group_by("cohort_id").agg(pl.col("n").sum().cast(pl.Int64)).sort("cohort_id")
    )
    return round_and_suppress(counts, "n").select("cohort_id", "n", "n_display")


def wilson(x: int | None, n: int | None) -> tuple[float | None, float | None, float | None]:
    """Proportion x/n with its 95 % Wilson score interval; None where either count is suppressed."""
    if x is None or not n:
        return None, None, None
    p = min(x / n, 1.0)
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def byar(events: int | None, n: int | None) -> tuple[float | None, float | None, float | None]:
    """Rate events/n with Byar's approximate 95 % interval for a Poisson count; None where suppressed."""
    if events is None or not n:
        return None, None, None
    low = 0.0 if events == 0 else events * (1 - 1 / (9 * events) - Z95 / (3 * math.sqrt(events))) ** 3
    o = events + 1
    high = o * (1 - 1 / (9 * o) + Z95 / (3 * math.sqrt(o))) ** 3
    return events / n, low / n, high / n


def rates_by(cells: Cells, area: Area, dimension: str) -> pl.DataFrame:
    """Long-term condition prevalence and emergency admissions per 1,000 by `dimension`, with 95 % CIs,
    from the published (protected) counts: dimension, measure, value, low, high."""
    people = _in(cells.people, area)
    denominators = protected(people, [dimension]).rename({"n": "people"})
    ltc = protected(people.filter(pl.col("has_ltc")), [dimension]).rename({"n": "ltc"})
    emergency = protected(people, [dimension], "emergency").rename({"n": "emergency"})
    joined = denominators.join(ltc.select(dimension, "ltc"), on=dimension, how="left").join(
        emergency.select(dimension, "emergency"), on=dimension, how="left"
    )
    rows = []
    for r in joined.sort(dimension).iter_rows(named=True):
        for measure, estimate in (
            ("ltc", wilson(r["ltc"], r["people"])),
            ("emergency", byar(r["emergency"], r["people"])),
        ):
            value, low, high = (None if v is None else 1000 * v for v in estimate)
            rows.append(
                {dimension: r[dimension], "measure": measure, "value": value, "low": low, "high": high}
            )
    schema = {
        dimension: pl.String,
        "measure": pl.String,
        "value": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)
