"""Issue 4 §4 "Must show": every defect the generator injects is found, and the detected counts agree
with the generator's truth within 1 % (here: exactly), per source, on a small ICS loaded once.

Each defect is compared at the stage that can see it: the connector's counts (reconciliation,
quarantine) against every injected row; the record-level checks against the truth rows that reached
the records they read (identifiable staged for the NHS number status, pseudonymised staged for the
rest), because a row removed first for another reason (quarantine, duplicate, opt-out, non-sharing
practice) is not counted twice. Also the linkage quality of issue 7 §3 on the same load.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from bench.truth import linkage_accuracy
from core.layout import Home
from linkage.linkage_quality import COUNT_COLUMNS, linkage_counts
from pseudonymisation import KeyProvider, Tokeniser
from quality import load_linkage_rates
from synthetic.defects import DEFECTS
from tests.fixtures.lineage import with_row_tokens

# defect -> (check id, where the defect is counted from: "all" injected rows, or the rows that
# reached the "identifiable" / "pseudonymised" staged records the check reads)
RECORD_DEFECTS: dict[str, tuple[str, str]] = {
    "nhs_missing": ("nhs_number_present", "identifiable"),
    "nhs_bad_check_digit": ("nhs_number_valid", "identifiable"),
    "ethnicity_missing": ("ethnicity_complete", "pseudonymised"),
    "unknown_code": ("code_in_codelist", "pseudonymised"),
}
OPS_DEFECTS: dict[str, tuple[str, ...]] = {
    "duplicate": ("duplicate_rows_excluded",),
    "bad_date": ("quarantine_invalid_date", "quarantine_future_date"),
    "malformed_line": ("quarantine_malformed_line",),
}
# The feed's code column that unknown_code hits -> the warehouse tables checked against the code lists.
WAREHOUSE_CODE_TABLES = {
    "gp_events": ("gp_event",), "gp_medications": ("gp_medication",), "apc": ("apc_episode",),
    "ecds": ("ae_attendance",), "mhsds": ("mh_referral", "mh_spell"),
}  # fmt: skip


def agrees(detected: int, truth: int) -> bool:
    """Within 1 % of the truth (exact for counts under 100)."""
    return abs(detected - truth) <= 0.01 * truth


@pytest.fixture(scope="module")
def dq(warehouse: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return warehouse.sql(
        "select asset, expectation, rows_evaluated, rows_failed, outcome from dq_results"
    ).pl()


@pytest.fixture(scope="module")
def truth(small_ics: Path) -> pl.DataFrame:
    return pl.read_parquet(small_ics / "truth" / "records.parquet").with_columns(
        pl.col("file").cast(pl.String), pl.col("source").cast(pl.String), pl.col("line").cast(pl.Int64)
    )


@pytest.fixture(scope="module")
def defects(small_ics: Path) -> dict[str, dict[str, int]]:
    return json.loads((small_ics / "truth" / "defects.json").read_text())


def _keys(folder: Path, column: str = "source_file") -> pl.DataFrame:
    """(file, line) of identifiable staged records, or the row tokens of pseudonymised ones."""
    columns = ["source_file", "source_line"] if column == "source_file" else ["row_token"]
    frame = pl.concat([pl.read_parquet(p, columns=columns) for p in sorted(folder.glob("*/*.parquet"))])
    if column != "source_file":
        return frame
    return frame.select(
        pl.col("source_file").alias("file"), pl.col("source_line").cast(pl.Int64).alias("line")
    )


@pytest.fixture(scope="module")
def reached(loaded: Home, truth: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Truth rows that reached each stage's records."""
    return {
        "all": truth,
        "identifiable": truth.join(
            _keys(loaded.root / "identifiable" / "staged"), on=["file", "line"], how="semi"
        ),
        "pseudonymised": with_row_tokens(loaded, truth)
        .join(_keys(loaded.pseudo_staged_dir, "row_token"), on="row_token", how="semi")
        .drop("row_token"),
    }


def _failed(dq: pl.DataFrame, asset: str, expectation: str) -> int | None:
    rows = dq.filter((pl.col("asset") == asset) & (pl.col("expectation") == expectation))
    return int(rows["rows_failed"].sum()) if rows.height else None


def test_truth_has_every_defect_type_to_find(defects: dict[str, dict[str, int]], truth: pl.DataFrame) -> None:
    """The counts the checks are compared with are the generator's own: defects.json holds, per source,
    exactly the number of truth records carrying each injected defect, and every defect a check looks
    for was injected somewhere."""
    per_source = truth.group_by("source").agg(pl.col(DEFECTS).sum())
    assert {r["source"]: {d: r[d] for d in DEFECTS} for r in per_source.iter_rows(named=True)} == defects
    for defect in (*RECORD_DEFECTS, *OPS_DEFECTS, "messy_code", "nhs_formatted"):
        assert sum(d[defect] for d in defects.values()) > 0, defect


@pytest.mark.parametrize("defect", sorted(RECORD_DEFECTS))
def test_record_defects_are_detected(
    defect: str, dq: pl.DataFrame, reached: dict[str, pl.DataFrame], defects: dict[str, dict[str, int]]
) -> None:
    check, stage = RECORD_DEFECTS[defect]
    rows = reached[stage]
    compared = 0
    for source, injected in defects.items():
        expected = int(rows.filter(pl.col("source") == source)[defect].sum())
        assert expected <= injected[defect]
        detected = _failed(dq, f"source/{source}", check)
        if detected is None:  # no such check on this feed: the generator must not inject it there
            assert injected[defect] == 0, f"{defect} injected into {source} but {check} does not run there"
            continue
        assert agrees(detected, expected), f"{check} on {source}: detected {detected}, truth {expected}"
        compared += expected
    assert compared > 0


@pytest.mark.parametrize("defect", sorted(OPS_DEFECTS))
def test_connector_defects_are_detected(
    defect: str, dq: pl.DataFrame, defects: dict[str, dict[str, int]]
) -> None:
    for source, injected in defects.items():
        detected = sum(_failed(dq, f"source/{source}", c) or 0 for c in OPS_DEFECTS[defect])
        assert agrees(detected, injected[defect]), f"{defect} on {source}: {detected} vs {injected[defect]}"


def test_unknown_codes_also_found_in_the_warehouse_tables(
    dq: pl.DataFrame, reached: dict[str, pl.DataFrame], warehouse: duckdb.DuckDBPyConnection, loaded: Home
) -> None:
    """The warehouse check sees the codes of the tables that keep the code column."""
    rows = reached["pseudonymised"].filter(pl.col("unknown_code"))
    for source, tables in WAREHOUSE_CODE_TABLES.items():
        mine = with_row_tokens(loaded, rows.filter(pl.col("source") == source))
        kept = 0
        for table in tables:  # rows of the feed that landed in a table holding the code column
            keys = warehouse.sql(f'select row_token from "{table}"').pl()
            kept += mine.join(keys, on="row_token", how="semi").height
        detected = sum(_failed(dq, f"warehouse/{t}", "code_in_codelist") or 0 for t in tables)
        assert agrees(detected, kept), f"{source}: {detected} vs {kept}"


def test_normalised_defects_are_not_quarantined(loaded: Home, truth: pl.DataFrame) -> None:
    """Formatted NHS numbers and messy (lower-case, padded) codes are normalised, never rejected."""
    quarantined = pl.concat(
        [
            pl.read_parquet(p, columns=["source_file", "source_line", "reason"])
            for p in sorted((loaded.root / "identifiable" / "quarantine").glob("*/*.parquet"))
        ]
    ).select(
        pl.col("source_file").alias("file"), pl.col("source_line").cast(pl.Int64).alias("line"), "reason"
    )
    for defect in ("nhs_formatted", "messy_code"):
        flagged = truth.filter(pl.col(defect))
        assert flagged.height > 0
        hit = flagged.join(quarantined, on=["file", "line"], how="inner")
        assert hit.filter(pl.col("reason") == "invalid_code").height == 0, defect
        # Any such row quarantined carries another injected defect that explains it.
        assert hit.filter(~pl.col("malformed_line") & ~pl.col("bad_date")).height == 0, defect


def test_warnings_do_not_stop_the_run(dq: pl.DataFrame, loaded: Home) -> None:
    """This load had warn-level failures, yet the warehouse and the report were built."""
    assert dq.filter(pl.col("outcome") == "warn").height > 0
    assert dq.filter(pl.col("outcome") == "fail").height == 0
    assert loaded.warehouse.exists()
    assert list(loaded.reports.glob("dq_*.html"))


# --------------------------------------------------------------------------- linkage (issue 7 §3)
def test_linkage_rates_in_report_and_ops(loaded: Home, warehouse: duckdb.DuckDBPyConnection) -> None:
    kept = sorted(loaded.dq_history.glob("linkage_*.parquet"))
    assert kept, "the before-publish hook keeps the linkage rates"
    run_id = kept[-1].stem.removeprefix("linkage_")
    rates = load_linkage_rates(loaded, run_id, warehouse)
    assert set(rates["dimension"].unique()) == {"source", "ethnic_group", "imd_quintile"}
    # Published counts are rounded to 5 or suppressed.
    for col in COUNT_COLUMNS:
        assert all(v % 5 == 0 for v in rates[col].drop_nulls().to_list()), col
    report = max(loaded.reports.glob("dq_*.html"), key=lambda p: p.stat().st_mtime).read_text()
    assert "<h2>Linkage</h2>" in report
    assert "imd_quintile" in report


def test_linkage_counts_agree_with_truth(
    small_ics: Path, loaded: Home, warehouse: duckdb.DuckDBPyConnection, reached: dict[str, pl.DataFrame]
) -> None:
    counts = linkage_counts(warehouse, loaded.pseudo_staged_dir)
    by_source = counts.filter(pl.col("dimension") == "source")
    rows = reached["pseudonymised"]
    for r in by_source.iter_rows(named=True):
        mine = rows.filter(pl.col("source") == r["value"])
        assert r["records"] == mine.height, r["value"]
        arrived_without = mine.filter(pl.col("nhs_missing") | pl.col("nhs_bad_check_digit")).height
        assert r["no_valid_nhs"] == arrived_without, r["value"]
        assert r["no_valid_nhs"] == sum(r[c] for c in COUNT_COLUMNS[2:])  # each record has one route
    # Every dimension splits the same records.
    totals = counts.group_by("dimension").agg(pl.col("records").sum(), pl.col("no_valid_nhs").sum())
    assert totals["records"].n_unique() == 1 and totals["no_valid_nhs"].n_unique() == 1


def test_linkage_accuracy_against_truth(small_ics: Path, loaded: Home) -> None:
    tokeniser = Tokeniser(KeyProvider.dev(loaded.keys).token_key(), domain="warehouse")
    overall = linkage_accuracy(small_ics / "truth", loaded, tokeniser)
    social_care = linkage_accuracy(small_ics / "truth", loaded, tokeniser, sources=["asc_cld"])
    print("linkage accuracy", overall, "asc_cld", social_care)
    assert overall["records"] > 100
    assert overall["precision"] >= 0.99
    assert overall["f1"] >= 0.98
    assert social_care["records"] > 0 and social_care["f1"] >= 0.98
