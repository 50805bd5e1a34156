"""Disclosure control: 0 shown, 1-7 suppressed, others rounded to the nearest 5; secondary suppression so
no suppressed cell can be recovered from its row, column or totals."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl
import pytest

from core.disclosure import SUPPRESSED, protect_table, round_and_suppress

# count  published  shown
PRIMARY = [
    (0,    0,         "0"),    # zero is shown
    (1,    None,      "*"),    # 1-7 suppressed
    (7,    None,      "*"),
    (8,    10,        "10"),   # rounded to nearest 5
    (12,   10,        "10"),
    (13,   15,        "15"),
    (22,   20,        "20"),
    (23,   25,        "25"),
    (1065, 1065,      "1065"),
]  # fmt: skip


def test_primary_suppression_and_rounding() -> None:
    out = round_and_suppress(pl.DataFrame({"n": [c for c, _, _ in PRIMARY]}))
    assert out["n"].to_list() == [p for _, p, _ in PRIMARY]
    assert out["n_display"].to_list() == [s for _, _, s in PRIMARY]
    assert out["suppression"].to_list() == [None if p is not None else "primary" for _, p, _ in PRIMARY]
    assert SUPPRESSED == "*"


def _recoverable(
    truth: pl.DataFrame, out: pl.DataFrame, group_cols: list[str], total_over: list[str]
) -> list:
    """Suppressed cells whose true value follows from the published cells and totals by linear algebra.

    Published values are taken as exact (stricter than reality, where they are rounded). A cell is
    recoverable when its unit vector lies in the row space of the margin equations over the unknowns.
    """
    true_n: dict[tuple, int] = {}
    for row in truth.iter_rows(named=True):
        true_n[tuple(row[c] for c in group_cols)] = row["n"]
    for size in range(1, len(total_over) + 1):
        for summed in combinations(total_over, size):
            for key, n in list((k, v) for k, v in true_n.items() if None not in k):
                total_key = tuple(None if c in summed else v for c, v in zip(group_cols, key, strict=True))
                true_n[total_key] = true_n.get(total_key, 0) + n
    suppressed = [
        tuple(r[c] for c in group_cols) for r in out.filter(pl.col("n").is_null()).iter_rows(named=True)
    ]
    index = {k: i for i, k in enumerate(suppressed)}
    equations = []
    for d in total_over:
        i = group_cols.index(d)
        for total_key in (k for k in true_n if k[i] is None):
            members = [
                k
                for k in true_n
                if k[i] is not None and k[:i] + k[i + 1 :] == total_key[:i] + total_key[i + 1 :]
            ]
            row = np.zeros(len(suppressed))
            for k, sign in [(m, 1.0) for m in members] + [(total_key, -1.0)]:
                if k in index:
                    row[index[k]] += sign
            equations.append(row)
    a = np.array(equations) if equations else np.zeros((0, len(suppressed)))
    rank = np.linalg.matrix_rank(a) if len(a) else 0
    return [
        k
        for k, i in index.items()
        if np.linalg.matrix_rank(np.vstack([a, np.eye(len(suppressed))[i]])) == rank
    ]


# tier         count  published  suppression
ONE_WAY = [
    ("very high", 5,   None,      "primary"),
    ("high",      42,  None,      "secondary"),   # smallest other cell: else 5 = total - the rest
    ("moderate",  118, 120,       None),
    ("low",       903, 905,       None),
    (None,        1068, 1070,     None),          # total of the unrounded counts, then rounded
]  # fmt: skip


def test_one_way_table_with_total() -> None:
    cells = [r for r in ONE_WAY if r[0] is not None]
    truth = pl.DataFrame({"tier": [r[0] for r in cells], "n": [r[1] for r in cells]})
    out = protect_table(truth, ["tier"], "n", total_over=["tier"])
    assert out.select("tier", "n", "suppression").rows() == [(t, p, s) for t, _, p, s in ONE_WAY]
    assert out["total"].to_list() == [False, False, False, False, True]
    assert out["n_display"].to_list() == ["*", "*", "120", "905", "1070"]
    assert _recoverable(truth, out, ["tier"], ["tier"]) == []


# tier        count  published  suppression
ZERO_LAST = [
    ("a",       5,    None,      "primary"),
    ("b",       0,    0,         None),          # a suppressed zero would protect nothing
    ("c",       30,   30,        None),
    ("d",       12,   None,      "secondary"),   # smallest non-zero cell
    (None,      47,   45,        None),
]  # fmt: skip


def test_secondary_suppression_skips_zeros() -> None:
    cells = [r for r in ZERO_LAST if r[0] is not None]
    truth = pl.DataFrame({"tier": [r[0] for r in cells], "n": [r[1] for r in cells]})
    out = protect_table(truth, ["tier"], "n")
    assert out.select("tier", "n", "suppression").rows() == [(t, p, s) for t, _, p, s in ZERO_LAST]
    assert _recoverable(truth, out, ["tier"], ["tier"]) == []


def test_one_way_table_without_totals_needs_primary_only() -> None:
    truth = pl.DataFrame({"tier": ["very high", "high"], "n": [5, 42]})
    out = protect_table(truth, ["tier"], "n", total_over=[])
    assert out.select("tier", "n", "suppression").rows() == [
        ("very high", None, "primary"),
        ("high", 40, None),
    ]


# practice  tier    count  published  suppression
TWO_WAY = [
    ("A",     "vh",   3,     None,      "primary"),
    ("A",     "high", 12,    None,      "secondary"),   # row A held one suppressed cell
    ("A",     "mod",  30,    30,        None),
    ("B",     "vh",   9,     None,      "secondary"),   # column vh then held one
    ("B",     "high", 20,    None,      "secondary"),   # and column high
    ("B",     "mod",  50,    50,        None),
    ("A",     None,   45,    45,        None),          # row totals
    ("B",     None,   79,    80,        None),
    (None,    "vh",   12,    10,        None),          # column totals
    (None,    "high", 32,    30,        None),
    (None,    "mod",  80,    80,        None),
    (None,    None,   124,   125,       None),          # grand total
]  # fmt: skip


def test_two_way_table_practice_by_tier() -> None:
    cells = [r for r in TWO_WAY if r[0] is not None and r[1] is not None]
    truth = pl.DataFrame(
        {"practice": [r[0] for r in cells], "tier": [r[1] for r in cells], "n": [r[2] for r in cells]}
    )
    out = protect_table(truth, ["practice", "tier"], "n")
    assert out.select("practice", "tier", "n", "suppression").rows() == [
        (a, b, p, s) for a, b, _, p, s in TWO_WAY
    ]
    assert _recoverable(truth, out, ["practice", "tier"], ["practice", "tier"]) == []


# practice  tier   count  published  suppression
CASCADE = [
    ("A",     "vh",  2,     None,      "primary"),
    ("A",     "h",   40,    None,      "secondary"),   # row A
    ("A",     "m",   60,    60,        None),
    ("B",     "vh",  25,    None,      "secondary"),   # column vh
    ("B",     "h",   30,    None,      "secondary"),   # column h, which then leaves row B with two
    ("B",     "m",   70,    70,        None),
    ("C",     "vh",  0,     0,         None),          # absent from the input: a zero cell
    ("C",     "h",   50,    50,        None),
    ("C",     "m",   90,    90,        None),
]  # fmt: skip


def test_two_way_sparse_table_row_totals_only() -> None:
    cells = [r for r in CASCADE if r[2] > 0]
    truth = pl.DataFrame(
        {"practice": [r[0] for r in cells], "tier": [r[1] for r in cells], "n": [r[2] for r in cells]}
    )
    out = protect_table(truth, ["practice", "tier"], "n", total_over=["tier", "practice"])
    body = out.filter(~pl.col("total")).select("practice", "tier", "n", "suppression")
    assert body.rows() == [(a, b, p, s) for a, b, _, p, s in CASCADE]
    full = pl.DataFrame(
        {"practice": [r[0] for r in CASCADE], "tier": [r[1] for r in CASCADE], "n": [r[2] for r in CASCADE]}
    )
    assert _recoverable(full, out, ["practice", "tier"], ["practice", "tier"]) == []


def test_the_check_would_catch_a_recoverable_cell() -> None:
    truth = pl.DataFrame({"tier": ["a", "b"], "n": [5, 40]})
    primary_only = protect_table(truth, ["tier"], "n", total_over=[])
    assert _recoverable(truth, primary_only, ["tier"], ["tier"]) == [("a",)]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"t": ["a", "a"], "n": [1, 2]}), "group columns are duplicated"),
        (pl.DataFrame({"t": ["a", None], "n": [1, 2]}), "must not be null"),
        (pl.DataFrame({"t": ["a"], "n": [-1]}), "negative or missing"),
        (pl.DataFrame({"t": ["a"], "n": [1.0]}), "integer count"),
    ],
)
def test_bad_input_is_refused(frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        protect_table(frame, ["t"], "n")
