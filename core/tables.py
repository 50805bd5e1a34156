"""Markdown tables: one builder for model cards, transparency reports, Dagster metadata and docs.

GitHub-flavoured pipe tables, as every report here has written them: a header row, a `|---|` rule per
column, one line per row, no alignment padding (the renderer aligns). A cell is `str(value)`, blank for
None; a `|` inside a cell is escaped so it cannot start a new column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["markdown_table"]


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def markdown_table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """The table as lines joined by newlines, without a trailing newline.

    >>> print(markdown_table(["a", "b"], [[1, None]]))
    | a | b |
    |---|---|
    | 1 |  |
    """
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
