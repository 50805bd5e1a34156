"""core.tables.markdown_table: the exact pipe table every report writes."""

from __future__ import annotations

from core.tables import markdown_table


def test_header_rule_and_rows() -> None:
    assert markdown_table(["decile", "people", "observed"], [[1, "10", 0.25], ["2", "*", None]]) == (
        "| decile | people | observed |\n|---|---|---|\n| 1 | 10 | 0.25 |\n| 2 | * |  |"
    )


def test_no_rows_is_the_header_and_the_rule() -> None:
    assert markdown_table(["route", "rows"], []) == "| route | rows |\n|---|---|"


def test_a_pipe_in_a_cell_cannot_start_a_column() -> None:
    assert markdown_table(["name", "pattern"], [["sex", "M|F"]]) == (
        "| name | pattern |\n|---|---|\n| sex | M\\|F |"
    )


def test_rows_may_be_any_iterable_of_sequences() -> None:
    rows = (("apc", n) for n in (5, 10))
    assert markdown_table(("source", "n"), rows) == "| source | n |\n|---|---|\n| apc | 5 |\n| apc | 10 |"
