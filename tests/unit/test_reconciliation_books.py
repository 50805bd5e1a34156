"""The warehouse's `reconciliation` from inline books: the exact books are checked before publishing
(a file that does not balance is named, its counts never shown), the records are published as the
books have them, and each file's opt-outs only as its cell of the published `opt_out_summary`."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from core.layout import Home
from linkage.warehouse import WarehouseCheckError
from linkage.warehouse.books import check_books, publish_reconciliation, read_books, reconciliation_table
from linkage.warehouse.opt_outs import opt_out_tables
from linkage.warehouse.schema import RECONCILIATION_TABLE
from load.reconcile import books_by_source

#: file -> (rows in, loaded, quarantined, opted out, excluded duplicate, excluded practice not sharing)
BOOKS = {
    "apc/apc_2026-01.csv": (100, 90, 4, 3, 2, 1),
    "apc/apc_2026-02.csv": (50, 40, 0, 10, 0, 0),
    "ecds/ecds_2026-01.csv": (30, 30, 0, 0, 0, 0),
}


def _write_books(folder: Path, books: dict[str, tuple[int, ...]] = BOOKS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for file, (rows_in, loaded, quarantined, opted_out, dup, not_sharing) in books.items():
        source, month = file.split("/")[0], file[-11:-4]
        path = folder / f"{source}_{month}.parquet"
        pl.DataFrame(
            {
                "source": [source],
                "file": [file],
                "month": [month],
                "rows_in": [rows_in],
                "loaded": [loaded],
                "quarantined": [quarantined],
                "opted_out": [opted_out],
                "excluded": [dup + not_sharing],
                "opted_out_ndoo": [opted_out],
                "opted_out_type1": [0],
                "excluded_duplicate": [dup],
                "excluded_practice_not_sharing": [not_sharing],
            }  # fmt: skip
        ).write_parquet(path)
        paths.append(path)
    return paths


def _summary() -> pl.DataFrame:
    """The published opt_out_summary of those books' opt-outs (3 in apc 2026-01, 10 in apc 2026-02)."""
    exact = pl.DataFrame(
        {
            "source": ["apc", "apc"],
            "month": ["2026-01", "2026-02"],
            "practice_code": ["A00001"] * 2,
            "route": ["ndoo", "ndoo"],
            "rows": [3, 10],
        }  # fmt: skip
    )
    practices = pl.DataFrame({"practice_code": ["A00001"], "pcn_code": ["U00001"], "place": ["North"]})
    return opt_out_tables(exact, practices)["opt_out_summary"]


def test_the_published_books_carry_the_records_and_the_opt_out_summary_cells(tmp_path: Path) -> None:
    books = read_books(_write_books(tmp_path / "reconciliation"))
    table = reconciliation_table(books, _summary()).sort("file")
    assert table.columns == list(RECONCILIATION_TABLE)
    assert "rows_in" not in table.columns
    assert table.select("file", "loaded", "quarantined", "excluded", "excluded_duplicate").rows() == [
        ("apc/apc_2026-01.csv", 90, 4, 3, 2),
        ("apc/apc_2026-02.csv", 40, 0, 0, 0),
        ("ecds/ecds_2026-01.csv", 30, 0, 0, 0),
    ]
    # 3 is primary-suppressed in opt_out_summary, so 10 beside it in the apc line is suppressed too;
    # ecds removed nobody and has no cell there: 0, shown as 0.
    assert table.select("opted_out", "opted_out_display", "opted_out_suppression").rows() == [
        (None, "*", "primary"),
        (None, "*", "secondary"),
        (0, "0", None),
    ]
    assert table["books_balance"].to_list() == [True, True, True]


def test_books_that_do_not_balance_are_refused_naming_the_file_not_its_counts(tmp_path: Path) -> None:
    broken = {**BOOKS, "apc/apc_2026-02.csv": (51, 40, 0, 10, 0, 0)}
    books = read_books(_write_books(tmp_path / "reconciliation", broken))
    with pytest.raises(WarehouseCheckError) as caught:
        check_books(books)
    message = str(caught.value)
    assert message == (
        "reconciliation: the books of 1 file(s) do not balance (rows in != loaded + quarantined + opted out"
        " + excluded): apc/apc_2026-02.csv; see pseudonymised/ops/reconciliation/"
    )
    assert "51" not in message and "40" not in message
    con = duckdb.connect()
    with pytest.raises(WarehouseCheckError):
        publish_reconciliation(con, sorted((tmp_path / "reconciliation").glob("*.parquet")), _summary())
    assert con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reconciliation'").fetchall() == [
        (0,)
    ]


def test_no_books_give_an_empty_table(tmp_path: Path) -> None:
    con = duckdb.connect()
    publish_reconciliation(con, [], _summary())
    assert con.sql("SELECT count(*) FROM reconciliation").fetchall() == [(0,)]
    described = con.sql("DESCRIBE reconciliation").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == list(RECONCILIATION_TABLE.items())


def test_phm_runs_summary_reads_the_exact_books_per_source(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").prepare()
    _write_books(home.ops_kind("reconciliation"))
    assert books_by_source(home).rows() == [("apc", 150, 130, 4, 13, 3), ("ecds", 30, 30, 0, 0, 0)]
