"""The DOB "one edit or transposition" level's integer pre-test changes no pair's level.

`linkage.match_model.DOB_EDIT` puts a cheap necessary condition (`DOB_EDIT_POSSIBLE`) in front of the
Damerau-Levenshtein distance so DuckDB computes the distance for few pairs. Checked here against the
distance alone on every pair of 30 seeded dates with every date from 1900 to 2025 (1.4 million pairs,
among them every valid one-edit and one-transposition neighbour of the 30).
"""

from __future__ import annotations

import contextlib

import duckdb

from linkage.match_model import DOB_EDIT, DOB_EDIT_POSSIBLE

DISTANCE_ONLY = (
    "damerau_levenshtein(strftime(date_of_birth_l, '%Y%m%d'), strftime(date_of_birth_r, '%Y%m%d')) <= 1"
)


def test_pre_test_keeps_every_one_edit_pair_and_changes_no_level() -> None:
    with contextlib.closing(duckdb.connect()) as con:
        con.execute(
            "CREATE TABLE d AS SELECT (DATE '1900-01-01' + to_days(CAST(i AS INTEGER)))::DATE AS x "
            "FROM range(0, 45656) t(i)"
        )
        con.execute("CREATE TABLE s AS SELECT x FROM d USING SAMPLE 30 ROWS (reservoir, 11)")
        pairs, by_distance, by_level, differ, passing = con.sql(
            f"""SELECT count(*), count_if({DISTANCE_ONLY}), count_if({DOB_EDIT}),
                       count_if(({DISTANCE_ONLY}) <> ({DOB_EDIT})), count_if({DOB_EDIT_POSSIBLE})
                FROM (SELECT a.x AS date_of_birth_l, b.x AS date_of_birth_r FROM s a, d b)"""
        ).fetchall()[0]
    assert pairs == 30 * 45656
    assert differ == 0
    assert by_level == by_distance
    # Every date is within one edit of itself and of its valid neighbours: more than 30 pairs match.
    assert by_distance > 30 * 10
    # The pre-test lets through few pairs (a shared year, or month and day): the distance is skipped
    # for more than nine in ten.
    assert passing < pairs / 10
