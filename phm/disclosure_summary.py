"""The disclosure-risk line `phm run` prints after a load (`quality.disclosure_risk` writes the report)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from core.layout import Home
from quality.disclosure_risk import summary_line


def print_disclosure_risk(home: Path, console: Console) -> None:
    """Print the share of people with k < 5 on the warehouse's quasi-identifiers, and where the report is."""
    line = summary_line(Home(home.resolve()))
    if line is not None:
        console.print(line, markup=False)
