"""The landing part of `phm run`'s summary: what was delivered and not loaded, and the exit status.

Every entry under landing/ is loaded or accounted for (`connectors.landing.inventory`). The summary
lists each entry that was not simply loaded, with its reason, and the run is refused (exit 1) when a
delivered file was not loaded and the operator did not acknowledge it (`--skip PATH`,
`--skip-unloaded`): a cron job must not report success while rows sit unread in landing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from connectors.landing import LOADED, MANIFEST, NOT_LOADED, REGISTER, Entry
from core.errors import Refused, UsageError

if TYPE_CHECKING:
    from pipelines.resources import DbsMailbox

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class UnloadedFiles(Refused):
    """Delivered files were not loaded and were not skipped by the operator."""


def month_range(text: str) -> list[str]:
    """'YYYY-MM' or 'YYYY-MM:YYYY-MM' -> every calendar month in that range, in order."""
    start, _, end = text.partition(":")
    end = end or start
    if not (_MONTH.fullmatch(start) and _MONTH.fullmatch(end)) or end < start:
        raise UsageError(f"--months must be YYYY-MM or YYYY-MM:YYYY-MM (earliest first), got {text!r}")
    y, m = int(start[:4]), int(start[5:])
    months = []
    while f"{y:04d}-{m:02d}" <= end:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def print_landing(entries: Sequence[Entry], console: Console) -> None:
    """A table of the entries that were not simply loaded (with their reasons), and the totals."""
    notable = [
        e for e in entries if e.status not in (REGISTER, MANIFEST) and (e.status != LOADED or e.reason)
    ]
    loaded = sum(e.status == LOADED for e in entries)
    if notable:
        table = Table(title="Landing entries not simply loaded")
        for col in ("entry", "status", "reason"):
            table.add_column(col, overflow="fold")
        for e in notable:
            table.add_row(e.path, e.status, e.reason)
        console.print(table)
    unloaded = sum(e.status == NOT_LOADED for e in entries)
    console.print(f"Landing: {len(entries)} entries, {loaded} files loaded, {unloaded} not loaded.")


def refuse_unloaded(entries: Sequence[Entry]) -> None:
    """Raise UnloadedFiles (exit 1) naming each delivered file that was not loaded."""
    unloaded = [e for e in entries if e.status == NOT_LOADED]
    if unloaded:
        raise UnloadedFiles(
            f"{len(unloaded)} landing entr{'y was' if len(unloaded) == 1 else 'ies were'} not loaded "
            "(acknowledge with --skip PATH or --skip-unloaded):\n"
            + "\n".join(f"  {e.path}: {e.reason}" for e in unloaded)
        )


def run_and_account(
    *,
    data: Path,
    home: Path,
    console: Console,
    months: str | None,
    skip: Sequence[str],
    skip_unloaded: bool,
    dbs: DbsMailbox | None = None,
) -> None:
    """`phm run`: load, print the summary with the landing inventory, exit 1 for unloaded files.

    ``dbs``: who answers the load's DBS trace request at once (the demo's national service, phm/demo.py).
    """
    from pipelines.runner import run_pipeline

    wanted = month_range(months) if months else None
    entries = run_pipeline(
        data=data,
        home=home,
        console=console,
        months=wanted,
        skip=tuple(skip),
        skip_unloaded=skip_unloaded,
        dbs=dbs,
    )
    print_landing(entries, console)
    refuse_unloaded(entries)
