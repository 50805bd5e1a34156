"""`phm bench link` error settings: the unseen setting's data and the option's refusal of a bad value."""

from __future__ import annotations

import polars as pl

from bench.link_data import synthetic_trace_data
from tests.fixtures.cli import phm


def test_unseen_errors_are_other_types_than_the_tuned_ones_and_repeatable() -> None:
    _, tuned = synthetic_trace_data(2000, 500, seed=3, errors="tuned")
    master, unseen = synthetic_trace_data(2000, 500, seed=3, errors="unseen")
    kinds = lambda f: {k for e in f["error"].to_list() for k in e.split("+")}  # noqa: E731
    assert kinds(unseen) & kinds(tuned) <= {"none", "not_in_master"}
    assert {"dob_digit", "postcode_typo", "family_double_barrelled"} <= kinds(unseen)
    assert unseen.height == 500 and master.height == 2000
    assert synthetic_trace_data(2000, 500, seed=3, errors="unseen")[1].equals(unseen)
    # Half the erroneous in-master records carry two errors here (a third in the tuned setting).
    erroneous = unseen.filter(~pl.col("error").is_in(["none", "not_in_master"]))
    share_double = erroneous["error"].str.contains(r"\+").mean()
    assert share_double is not None and 0.35 < float(share_double) < 0.5


def test_bench_link_refuses_an_unknown_error_setting() -> None:
    done = phm("bench", "link", "--persons", "100", "--unlinked", "10", "--errors", "random")
    assert done.returncode == 2
    assert "--errors must be one of tuned, unseen, febrl4" in done.stderr
    assert "Traceback" not in done.stderr
