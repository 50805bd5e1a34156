"""Statistical disclosure control for published counts (aggregates leaving the analyst zone).

The rules, in one place (NHS England HES/ECDS guidance and OpenSAFELY practice):

* **0 is shown as 0.** A zero reveals nothing about an individual that the table's design does not
  already reveal (NHS England HES guidance allows it), and suppressing zeros would only force more
  secondary suppression.
* **1-7 is suppressed** (published as null, shown as `SUPPRESSED`): primary suppression.
* **Everything else is rounded to the nearest 5**, halves rounded up (8 -> 10, 12 -> 10, 13 -> 15).
* **Totals are computed from the unrounded counts, then rounded** (and suppressed if 1-7 themselves),
  so a published total is never the sum of published, already-rounded cells.
* **Secondary suppression**: a line of a table (a row or column together with its total, published or
  derivable) that holds exactly one suppressed cell would give that cell away by subtraction, so the
  smallest non-zero unsuppressed cell of that line is suppressed too; repeated until no line has exactly
  one suppressed cell. Zeros are chosen only when a line has nothing else, because a suppressed zero
  protects nothing.

The line rule is the standard heuristic; it makes every line hold zero or at least two suppressed cells.
Rounding to 5 adds further protection on top.

**Related tables** (people by practice, by PCN, by place, and the ICS total) are one table for this rule:
`protect_hierarchy` treats each parent with its children as a line (practice ⊂ PCN ⊂ place ⊂ total), so
a parent minus its visible children, children summed against a parent, or the total minus the parts
always leaves at least two suppressed cells. **A count published alone** (a cohort size in Dagster
metadata, one figure in a report) goes through `safe_count`: the same 1-7 / round-to-5 rule. **A rate**,
shown with or without its counts, goes through `published_rate`: published counts only, and none where
the numerator, the denominator or the remainder is 1-7.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import TypeVar

import polars as pl

SUPPRESS_MIN = 1
SUPPRESS_MAX = 7
ROUND_TO = 5
SUPPRESSED = "*"

_V = TypeVar("_V")
_PRIMARY = "primary"
_SECONDARY = "secondary"


def _rounded(count: pl.Expr) -> pl.Expr:
    """Nearest multiple of ROUND_TO, halves up (integer arithmetic: no float surprises)."""
    return ((count + ROUND_TO // 2) // ROUND_TO) * ROUND_TO


def _is_small(count: pl.Expr) -> pl.Expr:
    return count.is_between(SUPPRESS_MIN, SUPPRESS_MAX)


def _publish(frame: pl.DataFrame, count_col: str) -> pl.DataFrame:
    """Replace the true count by its published value, plus the display text; `suppression` must exist."""
    suppressed = pl.col("suppression").is_not_null()
    published = pl.when(suppressed).then(None).otherwise(_rounded(pl.col(count_col))).cast(pl.Int64)
    return frame.with_columns(published.alias(count_col)).with_columns(
        pl.when(suppressed)
        .then(pl.lit(SUPPRESSED))
        .otherwise(pl.col(count_col).cast(pl.String))
        .alias(f"{count_col}_display")
    )


def safe_count(n: int) -> int | None:
    """One count published on its own: None when 1-7 (suppressed), else rounded to 5 (0 stays 0)."""
    if n < 0:
        raise ValueError("a count cannot be negative")
    return None if SUPPRESS_MIN <= n <= SUPPRESS_MAX else ((n + ROUND_TO // 2) // ROUND_TO) * ROUND_TO


def safe_count_text(n: int) -> str:
    """`safe_count` as display text: "*" when suppressed, else the rounded number."""
    value = safe_count(n)
    return SUPPRESSED if value is None else str(value)


def metadata_count(n: int) -> int | str:
    """`safe_count` for Dagster metadata and other key-value outputs: the rounded number, or "*"."""
    value = safe_count(n)
    return SUPPRESSED if value is None else value


def safe_counts(counts: Mapping[str, _V]) -> dict[str, _V | int | str]:
    """`metadata_count` applied to every int value of a metadata mapping (other values pass through;
    a negative int is a code, e.g. -1 for "skipped", and is kept)."""
    return {
        k: metadata_count(v) if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else v
        for k, v in counts.items()
    }


def published_rate(numerator: pl.Expr | str, denominator: pl.Expr | str) -> pl.Expr:
    """A share safe to publish with (or instead of) its counts: the published numerator over the
    published denominator, null when the numerator, the denominator or the rest (denominator minus
    numerator) is 1-7, or the denominator is 0. A rate of exact counts would give a small numerator
    back from a shown denominator, and 99 % of 300 gives back the 3 who are not in it."""
    num = pl.col(numerator) if isinstance(numerator, str) else numerator
    den = pl.col(denominator) if isinstance(denominator, str) else denominator
    small = _is_small(num) | _is_small(den) | _is_small(den - num) | (den == 0)
    return pl.when(small).then(None).otherwise(_rounded(num) / _rounded(den))


def round_and_suppress(counts: pl.DataFrame, count_col: str = "n") -> pl.DataFrame:
    """Primary suppression and rounding only, cell by cell (no totals, no secondary suppression).

    Returns `counts` with `count_col` replaced by the published value (null when suppressed), a
    `suppression` column ("primary" or null) and `<count_col>_display` ("*" or the rounded number).
    Use `protect_table` for anything published with totals or alongside other cells of the same table.
    """
    _check_counts(counts, count_col)
    marked = counts.with_columns(
        pl.when(_is_small(pl.col(count_col))).then(pl.lit(_PRIMARY)).otherwise(None).alias("suppression")
    )
    return _publish(marked, count_col)


def protect_table(
    frame: pl.DataFrame,
    group_cols: Sequence[str],
    count_col: str = "n",
    total_over: list[str] | None = None,
) -> pl.DataFrame:
    """Make a one- or n-way count table safe to publish: totals, primary and secondary suppression, rounding.

    `frame` holds one row per cell, the unrounded count in `count_col` (cells absent from the frame are
    counted as 0, so the table is the full grid of the values seen in each group column). `total_over`
    names the group columns summed over by totals that are published or derivable; None (the safe
    default) means every group column, `[]` means no totals. Total rows are appended with null in the
    summed-over column(s); `total` flags them.

    Returns the group columns, `count_col` (published value, null when suppressed), `suppression`
    ("primary", "secondary" or null), `total` and `<count_col>_display`, cells in the order first seen, totals last.
    """
    group_cols = list(group_cols)
    totals = list(group_cols) if total_over is None else list(total_over)
    unknown = [c for c in totals if c not in group_cols]
    if not group_cols or unknown:
        raise ValueError(f"total_over must name group columns; not group columns: {unknown}")
    _check_counts(frame, count_col, group_cols)

    cells = _with_totals(_full_grid(frame, group_cols, count_col), group_cols, count_col, totals)
    cells = cells.with_columns(
        pl.when(_is_small(pl.col(count_col))).then(pl.lit(_PRIMARY)).otherwise(None).alias("suppression")
    )
    cells = _secondary(cells, group_cols, count_col, totals)
    cells = cells.with_columns(pl.any_horizontal([pl.col(c).is_null() for c in group_cols]).alias("total"))
    ordered = cells.sort("total", "_cell")
    return _publish(ordered, count_col).select(
        *group_cols, count_col, "suppression", "total", f"{count_col}_display"
    )


def _check_counts(frame: pl.DataFrame, count_col: str, group_cols: Sequence[str] = ()) -> None:
    if count_col not in frame.columns or not frame.schema[count_col].is_integer():
        raise ValueError(f"{count_col!r} must be an integer count column")
    if frame.select((pl.col(count_col) < 0).any() | pl.col(count_col).is_null().any()).item():
        raise ValueError(f"{count_col!r} holds negative or missing counts")
    if group_cols:
        if frame.select(pl.any_horizontal(pl.col(c).is_null().any() for c in group_cols)).item():
            raise ValueError("group columns must not be null (null marks a total row)")
        if frame.select(pl.struct(group_cols).is_duplicated().any()).item():
            raise ValueError("one row per cell expected: group columns are duplicated")


def _full_grid(frame: pl.DataFrame, group_cols: list[str], count_col: str) -> pl.DataFrame:
    grid = frame.select(pl.col(group_cols[0]).unique(maintain_order=True))
    for col in group_cols[1:]:
        grid = grid.join(
            frame.select(pl.col(col).unique(maintain_order=True)), how="cross", maintain_order="left_right"
        )
    return grid.join(
        frame.select(*group_cols, count_col), on=group_cols, how="left", maintain_order="left"
    ).with_columns(pl.col(count_col).fill_null(0).cast(pl.Int64))


def _with_totals(
    cells: pl.DataFrame, group_cols: list[str], count_col: str, totals: list[str]
) -> pl.DataFrame:
    """Append a total for every non-empty subset of the totalled columns, from the unrounded counts."""
    parts = [cells]
    for size in range(1, len(totals) + 1):
        for summed in combinations(reversed(totals), size):  # row totals (last column summed) first
            kept = [c for c in group_cols if c not in summed]
            agg = (
                cells.group_by(kept, maintain_order=True).agg(pl.col(count_col).sum())
                if kept
                else cells.select(pl.col(count_col).sum())
            )
            parts.append(agg.with_columns(pl.lit(None, dtype=cells.schema[c]).alias(c) for c in summed))
    return pl.concat([p.select(*group_cols, count_col) for p in parts]).with_row_index("_cell")


def _secondary(cells: pl.DataFrame, group_cols: list[str], count_col: str, totals: list[str]) -> pl.DataFrame:
    """Suppress the smallest non-zero cell of every line holding exactly one suppressed cell, until stable.

    A line along totalled column `d` is every cell sharing the other group columns' values (null, i.e.
    a total, counts as a value), including the total cell where `d` is null.
    """
    changed = True
    while changed:
        changed = False
        for d in totals:
            keys: list[str | pl.Expr] = [c for c in group_cols if c != d] or [pl.lit(0)]
            suppressed = pl.col("suppression").is_not_null()
            ranked = cells.sort(
                [suppressed, pl.col(count_col) == 0, pl.col(count_col), pl.col(d).is_null(), pl.col("_cell")]
            ).with_columns(
                (
                    (suppressed.cast(pl.Int64).sum().over(keys) == 1)
                    & ~suppressed
                    & (pl.int_range(pl.len()).over(keys) == 0)
                ).alias("_pick")
            )
            if ranked.select(pl.col("_pick").any()).item():
                changed = True
                cells = ranked.with_columns(
                    pl.when(pl.col("_pick"))
                    .then(pl.lit(_SECONDARY))
                    .otherwise(pl.col("suppression"))
                    .alias("suppression")
                ).drop("_pick")
    return cells.sort("_cell")


def protect_hierarchy(
    frame: pl.DataFrame, levels: Sequence[str], count_col: str = "n"
) -> dict[str, pl.DataFrame]:
    """Protect nested one-way tables together (e.g. `levels` = place, pcn_code, practice_code: outermost
    first) so that no suppressed cell follows from another table of the set by differencing.

    `frame` holds one row per leaf path (every level's value, not null) with its unrounded count; every
    value of a level must sit under one value of the level above (ValueError otherwise: differencing
    rules assume a true hierarchy). Each node (a value at a level, plus the overall total) is one cell;
    each parent with its children is a line; a line with exactly one suppressed cell gets one more (the
    smallest non-zero child not yet suppressed, else a zero child, else the parent), until stable.

    Returns level -> a table shaped as `protect_table`'s one-way output (the level column, `count_col`,
    `suppression`, `total`, `<count_col>_display`): that level's cells in first-seen order, then the
    overall total row (null level value), which is the same cell in every table.
    """
    levels = list(levels)
    if not levels:
        raise ValueError("protect_hierarchy needs at least one level")
    _check_counts(frame, count_col, levels)
    counts: dict[tuple[int, str | None], int] = {(-1, None): 0}
    parent: dict[tuple[int, str | None], tuple[int, str | None]] = {}
    children: dict[tuple[int, str | None], list[tuple[int, str | None]]] = {(-1, None): []}
    for row in frame.select(*levels, count_col).iter_rows():
        up: tuple[int, str | None] = (-1, None)
        counts[up] += int(row[-1])
        for depth, value in enumerate(row[:-1]):
            node = (depth, str(value))
            if node not in counts:
                counts[node], parent[node], children[node] = 0, up, []
                children[up].append(node)
            elif parent[node] != up:
                raise ValueError(
                    f"{levels[depth]} {value!r} sits under more than one {_above(levels, depth)}"
                )
            counts[node] += int(row[-1])
            up = node
    suppressed = {node: _PRIMARY for node, n in counts.items() if SUPPRESS_MIN <= n <= SUPPRESS_MAX}
    changed = True
    while changed:
        changed = False
        for top, kids in children.items():
            if not kids or sum(node in suppressed for node in (top, *kids)) != 1:
                continue
            free = [k for k in kids if k not in suppressed]
            # smallest non-zero child first (zeros protect nothing), then a zero child, then the parent
            free.sort(key=lambda k: (counts[k] == 0, counts[k]))
            suppressed[free[0] if free else top] = _SECONDARY
            changed = True
    return {
        level: _level_table(level, depth, counts, suppressed, count_col) for depth, level in enumerate(levels)
    }


def _above(levels: list[str], depth: int) -> str:
    return levels[depth - 1] if depth else "total"


def _level_table(
    level: str,
    depth: int,
    counts: Mapping[tuple[int, str | None], int],
    suppressed: Mapping[tuple[int, str | None], str],
    count_col: str,
) -> pl.DataFrame:
    nodes = [node for node in counts if node[0] == depth] + [(-1, None)]
    cells = pl.DataFrame(
        {
            level: [value for _, value in nodes],
            count_col: [counts[node] for node in nodes],
            "suppression": [suppressed.get(node) for node in nodes],
            "total": [node[0] == -1 for node in nodes],
        },
        schema={level: pl.String, count_col: pl.Int64, "suppression": pl.String, "total": pl.Boolean},
    )
    return _publish(cells, count_col).select(level, count_col, "suppression", "total", f"{count_col}_display")
