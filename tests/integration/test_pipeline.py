"""The whole pipeline, materialised in-process by Dagster on a small synthetic ICS, checked against truth."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

import load as steps
from connectors.spec import EXTRACTS, PATTERNS
from core.layout import Home
from linkage.warehouse.books import read_books
from pseudonymisation import KeyProvider, Tokeniser
from tests.fixtures.lineage import with_row_tokens

# Which warehouse tables hold each source's loaded rows.
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "gp_events": ("gp_event",),
    "gp_medications": ("gp_medication",),
    "apc": ("apc_episode",),
    "ecds": ("ae_attendance",),
    "outpatients": ("op_appointment",),
    "csds": ("community_contact",),
    "mhsds": ("mh_referral", "mh_contact", "mh_spell"),
    "asc_cld": ("asc_event",),
}


def _tokens(home: Home, nhs_numbers: list[str]) -> set[str]:
    tokeniser = Tokeniser(KeyProvider.dev(home.keys).token_key(), domain="warehouse")
    return set(tokeniser.tokenise(pl.Series(nhs_numbers, dtype=pl.String)).to_list())


def _all_tokens(con: duckdb.DuckDBPyConnection) -> set[str]:
    tables = [
        r[0]
        for r in con.sql(
            "select table_name from information_schema.columns where column_name = 'person_token'"
        ).fetchall()
    ]
    found: set[str] = set()
    for table in tables:  # table names come from the catalogue, not from input
        found |= {r[0] for r in con.sql(f'select distinct person_token from "{table}"').fetchall()}
    return found


def test_every_asset_materialised_and_warehouse_published(
    loaded: Home, warehouse: duckdb.DuckDBPyConnection
) -> None:
    tables = {r[0] for r in warehouse.sql("select table_name from information_schema.tables").fetchall()}
    assert {"person", *[t for ts in SOURCE_TABLES.values() for t in ts], "reconciliation"} <= tables
    assert warehouse.sql("select count(*) from person").fetchall()[0][0] > 2_000
    assert loaded.vault.exists()


def test_no_opted_out_person_anywhere_in_warehouse(
    small_ics: Path, loaded: Home, warehouse: duckdb.DuckDBPyConnection
) -> None:
    truth = pl.read_parquet(small_ics / "truth" / "persons.parquet")
    opted_out = truth.filter(pl.col("ndoo") | pl.col("type1_opt_out"))["nhs_number"].to_list()
    kept = truth.filter(~pl.col("ndoo") & ~pl.col("type1_opt_out"))["nhs_number"].to_list()
    assert len(opted_out) > 50
    in_warehouse = _all_tokens(warehouse)
    assert _tokens(loaded, opted_out) & in_warehouse == set()
    # The check has teeth: people who did not opt out are found by the same tokenisation.
    assert len(_tokens(loaded, kept) & in_warehouse) > 0.9 * len(kept)


def test_reconciliation_is_exact_for_every_file(
    small_ics: Path, loaded: Home, warehouse: duckdb.DuckDBPyConnection
) -> None:
    records = pl.read_parquet(small_ics / "truth" / "records.parquet").with_columns(
        pl.col("file").cast(pl.String)
    )
    lines_per_file = dict(records.group_by("file").len().iter_rows())
    # The exact books stay in the ops folder; the warehouse publishes the records and the check's result.
    recon = read_books(sorted(loaded.ops_kind("reconciliation").glob("*.parquet")))
    assert recon.height == len(lines_per_file)
    for row in recon.iter_rows(named=True):
        assert row["rows_in"] == lines_per_file[row["file"]], row["file"]
        assert row["rows_in"] == row["loaded"] + row["quarantined"] + row["opted_out"] + row["excluded"]
    published = warehouse.sql("select file, loaded, books_balance from reconciliation order by file").pl()
    assert published.rows() == [(f, n, True) for f, n in recon.sort("file").select("file", "loaded").rows()]
    for source, tables in SOURCE_TABLES.items():
        loaded_rows = sum(warehouse.sql(f'select count(*) from "{t}"').fetchall()[0][0] for t in tables)
        assert loaded_rows == recon.filter(pl.col("source") == source)["loaded"].sum(), source


def test_injected_row_defects_are_quarantined_or_excluded_exactly(
    small_ics: Path, warehouse: duckdb.DuckDBPyConnection
) -> None:
    records = pl.read_parquet(small_ics / "truth" / "records.parquet").with_columns(
        pl.col("source").cast(pl.String)
    )
    truth = records.group_by("source").agg(
        pl.col("malformed_line").sum(), pl.col("bad_date").sum(), pl.col("duplicate").sum()
    )
    quarantine = warehouse.sql(
        "select source, reason, sum(rows)::bigint as rows from quarantine_summary group by all"
    ).pl()
    for row in truth.iter_rows(named=True):
        got = dict(quarantine.filter(pl.col("source") == row["source"]).select("reason", "rows").iter_rows())
        assert got.get("malformed_line", 0) == row["malformed_line"], row["source"]
        assert got.get("invalid_date", 0) + got.get("future_date", 0) == row["bad_date"], row["source"]
    dupes = dict(
        warehouse.sql(
            "select source, sum(excluded_duplicate)::bigint from reconciliation group by 1"
        ).fetchall()
    )
    for row in truth.iter_rows(named=True):
        assert dupes.get(row["source"], 0) == row["duplicate"], row["source"]


NHS_RE = re.compile(r"\d{10}")
POSTCODE_RE = re.compile(PATTERNS["postcode"].strip("^$"))


def test_no_identifier_in_any_text_column(small_ics: Path, warehouse: duckdb.DuckDBPyConnection) -> None:
    truth = pl.read_parquet(small_ics / "truth" / "persons.parquet")
    nhs_numbers = set(truth["nhs_number"].to_list())
    full_names = {f"{g} {f}".upper() for g, f in truth.select("given_name", "family_name").iter_rows()}
    family_names = {f.upper() for f in truth["family_name"].to_list()}
    text_columns = warehouse.sql(
        "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'"
    ).fetchall()
    assert len(text_columns) > 50
    for table, column in text_columns:
        values = {
            r[0]
            for r in warehouse.sql(f'select distinct "{column}" from "{table}"').fetchall()
            if r[0] is not None
        }
        for value in values:
            assert not (set(NHS_RE.findall(value)) & nhs_numbers), f"{table}.{column} holds an NHS number"
            assert not POSTCODE_RE.search(value), f"{table}.{column} holds a postcode"
            assert value.upper() not in full_names, f"{table}.{column} holds a name"
        # A column that is mostly family names is a name column, whatever it is called.
        if len(values) > 20:
            share = len({v.upper() for v in values} & family_names) / len(values)
            assert share < 0.2, f"{table}.{column} looks like names"


def test_every_extract_source_is_loaded(loaded: Home) -> None:
    for source in EXTRACTS:
        assert steps.staged_months(loaded, source), source


def test_traced_records_link_to_the_right_person(small_ics: Path, loaded: Home) -> None:
    """Records that arrived without a valid NHS number: traced ones carry the true person's token."""
    truth = pl.read_parquet(small_ics / "truth" / "records.parquet").with_columns(
        pl.col("file").cast(pl.String), pl.col("source").cast(pl.String)
    )
    persons = pl.read_parquet(small_ics / "truth" / "persons.parquet").select(
        "person_id", "practice_non_sharing"
    )
    untraced = truth.filter(pl.col("nhs_missing") | pl.col("nhs_bad_check_digit")).join(
        persons, on="person_id"
    )
    staged = pl.concat(
        [pl.read_parquet(p) for p in loaded.pseudo_staged_dir.glob("*/*.parquet")], how="diagonal_relaxed"
    ).select("row_token", "person_token", "link_method")
    got = with_row_tokens(loaded, untraced).join(staged, on="row_token", how="inner")
    tokeniser = Tokeniser(KeyProvider.dev(loaded.keys).token_key(), domain="warehouse")
    got = got.with_columns(expected=tokeniser.tokenise(got["nhs_number"]))
    traced = got.filter(pl.col("link_method") != "unmatched")
    assert traced.height > 100
    precision = (traced["person_token"] == traced["expected"]).mean()
    assert precision is not None and precision >= 0.99
    # People whose practice shares GP data are in the master, so nearly all of them trace.
    sharing = got.filter(~pl.col("practice_non_sharing"))
    recall = (sharing["person_token"] == sharing["expected"]).mean()
    assert recall is not None and recall >= 0.9
    # People at non-sharing practices are mostly not in the master (unless they moved from a sharing
    # practice); most are linked by national tracing (when DBS answered) or through their other records
    # that carry the number (`linkage.cluster`), and a number found through a cluster is the right one.
    non_sharing = got.filter(pl.col("practice_non_sharing"))
    assert non_sharing.height > 0
    beyond_master = non_sharing.filter(pl.col("link_method").is_in(["clustered", "dbs"]))
    assert beyond_master.height >= 0.5 * non_sharing.height
    clustered = non_sharing.filter(pl.col("link_method") == "clustered")
    assert clustered.height == 0 or (clustered["person_token"] == clustered["expected"]).all()


def test_analyst_guide_queries_run(warehouse: duckdb.DuckDBPyConnection) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "analyst_guide.md").read_text()
    statements = [
        stmt
        for block in re.findall(r"```sql\n(.*?)```", guide, re.S)
        for stmt in block.split(";")
        if stmt.strip() and not stmt.strip().startswith("--")
    ]
    assert len(statements) == 8
    for stmt in statements:
        warehouse.sql(stmt).fetchall()
    unbalanced = "select * from reconciliation where not books_balance"
    assert warehouse.sql(unbalanced).fetchall() == []
