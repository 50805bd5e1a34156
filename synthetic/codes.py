"""The shipped code lists (``codelists/*.csv``), read once."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

CODELIST_DIR = Path(__file__).resolve().parents[1] / "codelists"


@cache
def codelist(name: str) -> tuple[str, ...]:
    """Codes of ``codelists/<name>.csv`` in file order (the first is the most used)."""
    with (CODELIST_DIR / f"{name}.csv").open(newline="") as f:
        return tuple(row["code"] for row in csv.DictReader(f))


@cache
def efi_deficits() -> dict[str, tuple[str, ...]]:
    """eFI deficit -> its SNOMED codes, in file order."""
    out: dict[str, list[str]] = {}
    with (CODELIST_DIR / "efi_deficits.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["deficit"], []).append(row["code"])
    return {k: tuple(v) for k, v in out.items()}


@cache
def all_codes() -> frozenset[str]:
    """Every code in every shipped list (unknown-code defects must avoid all of them)."""
    codes: set[str] = set()
    for path in sorted(CODELIST_DIR.glob("*.csv")):
        with path.open(newline="") as f:
            codes.update(row["code"] for row in csv.DictReader(f))
    return frozenset(codes)
