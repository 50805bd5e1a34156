"""How re-identifiable the warehouse's people are: k-anonymity class sizes on its quasi-identifiers.

Pseudonymised is not anonymous. The warehouse keeps, for every person, a birth year-month, sex, LSOA,
practice and ethnic category; someone who knows those things about a neighbour (a GP register, an
electoral roll) can find the neighbour's row when the combination is rare. This module measures that
on every run: for each set of quasi-identifiers in `QUASI_IDENTIFIER_SETS`, the people grouped by
their values, each person's class size k (1 = unique), and how many people are in classes of 1, 2-4,
5-9 and 10 or more. It is what docs/security.md quotes when it says what the warehouse still allows.

The report leaves the warehouse, so its counts go through `core.disclosure.protect_table` (1-7
suppressed, rounded to 5, secondary suppression within each set's bands and total); the share of
people with k < 5 is a percentage to one decimal of the whole population. `write_report` writes
HOME/reports/disclosure_risk.json (the data structure, for the reports site) and .md; `summary_line`
is what `phm run` prints.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import polars as pl

from core.disclosure import SUPPRESSED, protect_table
from core.files import write_public
from core.layout import Home
from core.tables import markdown_table

__all__ = [
    "K_THRESHOLD",
    "QUASI_IDENTIFIER_SETS",
    "RiskSet",
    "measure",
    "report_paths",
    "summary_line",
    "write_report",
]

K_THRESHOLD: Final = 5
#: name -> (description, person columns). `all` is the warehouse's full set; the others are what an
#: outsider most often knows together (the issue's test: birth month, sex and LSOA).
QUASI_IDENTIFIER_SETS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "all": (
        "birth year-month, sex, LSOA, practice, ethnic category",
        ("birth_year_month", "sex", "lsoa21", "practice_code", "ethnic_category"),
    ),
    "birth_month_sex_lsoa": ("birth year-month, sex, LSOA", ("birth_year_month", "sex", "lsoa21")),
    "birth_year_sex_practice": ("birth year, sex, practice", ("birth_year", "sex", "practice_code")),
}
_BANDS: Final = (("1", 1, 1), ("2-4", 2, 4), ("5-9", 5, 9), ("10+", 10, None))
_JSON: Final = "disclosure_risk.json"
_MARKDOWN: Final = "disclosure_risk.md"


@dataclass(frozen=True)
class RiskSet:
    """One quasi-identifier set: people by class-size band (published counts, None = suppressed), the
    protected total, and the share of all people in classes smaller than K_THRESHOLD (percent)."""

    name: str
    description: str
    columns: list[str]
    people: int | None
    people_by_k: dict[str, int | None]
    share_below_k: float | None


def _people(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    columns = sorted({c for _, cols in QUASI_IDENTIFIER_SETS.values() for c in cols} - {"birth_year"})
    frame = con.sql(f"SELECT {', '.join(columns)} FROM person").pl()  # noqa: S608 - fixed column names
    return frame.with_columns(pl.col("birth_year_month").cast(pl.String).str.slice(0, 4).alias("birth_year"))


def _measure_set(people: pl.DataFrame, name: str, description: str, columns: tuple[str, ...]) -> RiskSet:
    k = people.select(pl.len().over(list(columns)).alias("k"))["k"]
    counts = pl.DataFrame(
        {
            "k_band": [band for band, _, _ in _BANDS],
            "n": [int(((k >= lo) & (k <= hi) if hi else (k >= lo)).sum()) for _, lo, hi in _BANDS],
        },
        schema={"k_band": pl.String, "n": pl.Int64},
    )
    safe = protect_table(counts, ["k_band"])
    total = safe.filter(pl.col("total"))["n"].item()
    below = int((k < K_THRESHOLD).sum())
    share = round(100 * below / people.height, 1) if people.height and total is not None else None
    return RiskSet(
        name=name,
        description=description,
        columns=list(columns),
        people=total,
        people_by_k=dict(safe.filter(~pl.col("total")).select("k_band", "n").iter_rows()),
        share_below_k=share,
    )


def measure(con: duckdb.DuckDBPyConnection) -> list[RiskSet]:
    """Every set of QUASI_IDENTIFIER_SETS measured on the warehouse's `person` table (counts protected)."""
    people = _people(con)
    return [_measure_set(people, name, desc, cols) for name, (desc, cols) in QUASI_IDENTIFIER_SETS.items()]


def report_paths(home: Home) -> tuple[Path, Path]:
    """(JSON, Markdown) paths of the report under HOME/reports/."""
    return home.reports / _JSON, home.reports / _MARKDOWN


def _shown(value: float | None) -> str:
    return SUPPRESSED if value is None else str(value)


def _markdown(sets: list[RiskSet]) -> str:
    rows = [
        [_shown(s.people), *(_shown(s.people_by_k[b]) for b, _, _ in _BANDS), _shown(s.share_below_k)]
        for s in sets
    ]
    rows = [[s.description, *row] for s, row in zip(sets, rows, strict=True)]
    headers = [
        "quasi-identifiers",
        "people",
        *(f"k = {b}" for b, _, _ in _BANDS),
        f"% with k < {K_THRESHOLD}",
    ]
    return (
        "# Disclosure risk of the warehouse\n\n"
        "People grouped by the values they share on each set of quasi-identifiers; k is the size of a\n"
        "person's group (k = 1: nobody else has those values). Counts: 1-7 suppressed (*), others\n"
        "rounded to 5. Pseudonymised data with these values is not anonymous: see docs/security.md.\n\n"
        + markdown_table(headers, rows)
        + "\n"
    )


def write_report(home: Home, con: duckdb.DuckDBPyConnection) -> list[RiskSet]:
    """Measure the warehouse behind `con` and write HOME/reports/disclosure_risk.{json,md}."""
    sets = measure(con)
    json_path, md_path = report_paths(home)
    payload: dict[str, Any] = {"k_threshold": K_THRESHOLD, "sets": [asdict(s) for s in sets]}
    write_public(json_path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
    write_public(md_path, _markdown(sets).encode("utf-8"))
    return sets


def summary_line(home: Home) -> str | None:
    """The run's one-line disclosure-risk summary from the written report (None when there is none)."""
    json_path, md_path = report_paths(home)
    if not json_path.is_file():
        return None
    full = next(s for s in json.loads(json_path.read_text())["sets"] if s["name"] == "all")
    share = "suppressed" if full["share_below_k"] is None else f"{full['share_below_k']:.1f}%"
    people = "*" if full["people"] is None else f"{full['people']:,}"
    return (
        f"Disclosure risk: {share} of {people} people have k < {K_THRESHOLD} on "
        f"({full['description']}); report {md_path}"
    )
