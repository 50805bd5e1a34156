"""`match_people` on files that are not shaped like an NHS extract: other countries' postcodes, text dates.

`match_people` is public: an ICS (or a benchmark) hands it any two files of people. A UK extract's
malformed postcode is no evidence and stays null, but a file whose postcodes are mostly not UK ones
keeps them as text; dates of birth given as text or YYYYMMDD integers are read, not refused.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from linkage.match_model import comparisons
from linkage.matcher import match_people, prepare, uk_postcodes

D = dt.date
PEOPLE = pl.DataFrame(
    {
        "pid": ["R1", "R2", "R3", "R4"],
        "given_name": ["Noah", "Macy", "Ann", "Robert"],
        "family_name": ["Maier", "Donaldson", "Jones", "Brown"],
        "date_of_birth": [D(1902, 4, 10), D(1975, 12, 1), D(1990, 5, 5), D(1960, 6, 16)],
        "postcode": ["4700", "2767", "3816", "6152"],
    }
)


def _uk(*frames: pl.DataFrame) -> bool:
    """`uk_postcodes` as `match_people` calls it: the frames and the frames prepared with UK keys."""
    return uk_postcodes(frames, [prepare(f.with_row_index("_id"), "_id") for f in frames])


def test_mostly_uk_postcodes_are_uk_and_the_malformed_ones_stay_null() -> None:
    uk = pl.DataFrame({"rid": [1, 2, 3, 4], "postcode": ["ls1 4ab", "LS1", "AB1- 2CD", "QA1 1AA"]})
    assert _uk(uk) is True
    assert _uk(uk.head(3)) is False  # one of three well formed: these are not UK postcodes
    assert prepare(uk, "rid", uk_postcodes=True)["postcode"].to_list() == ["LS1 4AB", None, None, "QA1 1AA"]


def test_four_digit_postcodes_are_kept_as_text_on_both_sides() -> None:
    other = pl.DataFrame({"rid": [1, 2, 3], "postcode": [" 4700", "27-67", ""]})
    assert _uk(other, PEOPLE) is False
    assert prepare(other, "rid", uk_postcodes=False)["postcode"].to_list() == ["4700", "2767", None]
    # Decided over both frames: one UK postcode beside three foreign ones does not make them UK.
    assert _uk(pl.DataFrame({"postcode": ["LS1 4AB"]}), PEOPLE) is False
    assert _uk(pl.DataFrame({"postcode": ["LS1 4AB", "  ", None]})) is True  # blanks are not counted
    assert _uk(pl.DataFrame({"rid": [1]})) is True  # no postcode column: nothing to decide


def test_text_postcodes_are_compared_exactly_or_by_one_edit_not_by_uk_sector() -> None:
    def conditions(uk: bool) -> list[str]:
        (postcode,) = comparisons({"postcode"}, uk_postcodes=uk)
        return [
            lvl["sql_condition"] for lvl in postcode.get_comparison("duckdb").as_dict()["comparison_levels"]
        ]

    text = conditions(False)
    assert len(text) == 4 and "damerau_levenshtein" in text[2] and text[3] == "ELSE"
    assert not any("regexp_extract" in c for c in text)
    assert sum("regexp_extract" in c for c in conditions(True)) == 3  # sector, district, area


def test_a_mistyped_four_digit_postcode_still_links() -> None:
    left = PEOPLE.rename({"pid": "rid"}).with_columns(
        pl.Series("postcode", ["4070", "2767", "3816", "6125"]),  # two digits transposed in 1 and 4
    )
    best = match_people(left, PEOPLE, left_id="rid", right_id="pid", link_rate=1.0).best
    assert best["pid"].to_list() == ["R1", "R2", "R3", "R4"]
    assert best["accepted"].to_list() == [True, True, True, True]


def test_dates_of_birth_as_text_or_integers_give_the_same_links_as_dates() -> None:
    left = PEOPLE.rename({"pid": "rid"}).with_columns(
        pl.Series("given_name", ["Noah", "Macey", "Anne", "Rob"])
    )
    as_dates = match_people(left, PEOPLE, left_id="rid", right_id="pid", link_rate=1.0).best
    forms = {
        "iso": pl.col("date_of_birth").dt.strftime("%Y-%m-%d"),
        "compact": pl.col("date_of_birth").dt.strftime("%Y%m%d"),
        "uk": pl.col("date_of_birth").dt.strftime("%d/%m/%Y"),
        "integer": pl.col("date_of_birth").dt.strftime("%Y%m%d").cast(pl.Int64),
    }
    for name, expr in forms.items():
        got = match_people(
            left.with_columns(expr), PEOPLE.with_columns(expr), left_id="rid", right_id="pid", link_rate=1.0
        ).best
        assert got.equals(as_dates), name
    unreadable = left.with_columns(
        pl.Series("date_of_birth", ["not a date", "1975-13-01", None, "16/06/1960"])
    )
    prepared = prepare(unreadable, "rid")["date_of_birth"].to_list()
    assert prepared == [None, None, None, D(1960, 6, 16)]
