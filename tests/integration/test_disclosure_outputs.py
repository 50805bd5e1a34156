"""On the real load of the small ICS: the disclosure-risk report, the published practice ⊂ PCN ⊂ place
tables under a differencing attack, and the counts the cohort step put into Dagster metadata."""

from __future__ import annotations

import io
import json

import dagster as dg
import duckdb
import polars as pl
from rich.console import Console

from cohort.aggregates import HIERARCHY
from core.layout import Home
from phm.disclosure_summary import print_disclosure_risk
from quality.disclosure_risk import report_paths
from tests.fixtures.differencing import attack


def _published(value: object) -> bool:
    """A count as it may leave the warehouse: suppressed, 0, or a multiple of 5 from 10 up."""
    return (
        value is None
        or value == "*"
        or (isinstance(value, int) and (value == 0 or (value >= 10 and value % 5 == 0)))
    )


def test_the_disclosure_risk_report_measures_the_warehouse(
    loaded: Home, warehouse: duckdb.DuckDBPyConnection
) -> None:
    json_path, md_path = report_paths(loaded)
    report = json.loads(json_path.read_text())
    sets = {s["name"]: s for s in report["sets"]}
    assert list(sets) == ["all", "birth_month_sex_lsoa", "birth_year_sex_practice"]
    people = warehouse.sql(
        "SELECT birth_year_month, sex, lsoa21, practice_code, ethnic_category FROM person"
    ).pl()
    k = people.select(pl.len().over(people.columns).alias("k"))["k"]
    assert sets["all"]["share_below_k"] == round(100 * int((k < 5).sum()) / people.height, 1)
    for s in sets.values():
        assert all(_published(v) for v in (s["people"], *s["people_by_k"].values())), s
    assert sets["all"]["share_below_k"] > 50  # near-unique: what docs/security.md says pseudonymised allows
    out = io.StringIO()
    print_disclosure_risk(loaded.root, Console(file=out, width=400))
    assert out.getvalue() == (
        f"Disclosure risk: {sets['all']['share_below_k']:.1f}% of {sets['all']['people']:,} people have k < 5 on "
        f"(birth year-month, sex, LSOA, practice, ethnic category); report {md_path}\n"
    )


def test_differencing_the_published_practice_pcn_and_place_tables_recovers_nothing(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    tables = {level: warehouse.sql(f"SELECT * FROM agg_people_by_{level}").pl() for level in HIERARCHY}
    suppressed = sum(t["suppression"].is_not_null().sum() for t in tables.values())
    # which practice sits in which PCN and place is public (ODS); the published tables name them
    paths = warehouse.sql(
        "SELECT DISTINCT coalesce(CASE WHEN p.pcn_code IS NULL OR p.practice_code IS NULL THEN NULL"
        " ELSE p.practice_place END, 'unknown') AS place, coalesce(CASE WHEN p.practice_code IS NULL THEN NULL"
        " ELSE p.pcn_code END, 'unknown') AS pcn_code, coalesce(p.practice_code, 'unknown') AS practice_code"
        " FROM person AS p JOIN features AS f USING (person_token) WHERE f.alive"
    ).pl()
    ranges = attack(tables, paths, list(HIERARCHY))
    assert len(ranges) == suppressed
    assert all(hi - lo >= 6 for lo, hi in ranges.values()), ranges


def test_cohort_counts_in_dagster_metadata_are_protected(load_instance: dg.DagsterInstance) -> None:
    def metadata(*key: str) -> dict[str, object]:
        event = load_instance.get_latest_materialization_event(dg.AssetKey(list(key)))
        assert event is not None and event.asset_materialization is not None
        return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}

    sizes = metadata("cohort", "cohorts")
    assert sizes and all(_published(v) or v == -1 for v in sizes.values()), sizes
    for markdown in (
        metadata("cohort", "scores")["risk_pyramid"],
        metadata("cohort", "segments")["segments"],
    ):
        cells = [line.split("|")[2].strip() for line in str(markdown).splitlines()[2:] if line.strip()]
        assert cells and all(c == "*" or _published(int(c)) for c in cells), markdown
