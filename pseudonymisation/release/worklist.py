"""The clinician's worklist: an HTML page of an opened list, written beside the decrypted CSV.

Produced only where the list is decrypted (`phm open-list --out`, at the practice, with the practice's
own key), never on the operator's side: the page holds exactly what the CSV holds (the fields the
purpose approved), plus the practice, the purpose and its legal basis and the release date, all from
the sealed file's authenticated header. Sortable by any column and printable; no script or style is
fetched from anywhere.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from core.files import write_private
from reports import render

from .sealing import SealedList
from .transparency import LEGAL_BASIS_TEXT

__all__ = ["worklist_html", "worklist_path", "write_worklist"]


def worklist_path(csv_path: Path) -> Path:
    """The worklist beside `csv_path` (same name, .html)."""
    return csv_path.with_suffix(".html")


def worklist_html(opened: SealedList, *, csv_name: str) -> str:
    """The page for `opened` (its CSV plaintext: a header row of field names, then one row per patient)."""
    rows = list(csv.reader(io.StringIO(opened.plaintext.decode("utf-8"))))
    head, body = (rows[0], rows[1:]) if rows else ([], [])
    released = (
        date.fromisoformat(opened.released_on).strftime("%d %B %Y") if opened.released_on else "not recorded"
    )
    basis = LEGAL_BASIS_TEXT.get(opened.legal_basis or "", opened.legal_basis or "not recorded in this file")
    return render(
        "worklist.html.j2",
        title=f"Worklist: {opened.purpose.replace('-', ' ')} — practice {opened.practice}",
        purpose=opened.purpose,
        practice=opened.practice,
        legal_basis=basis,
        released=released,
        head=[h.replace("_", " ") for h in head],
        rows=body,
        csv_name=csv_name,
    )


def write_worklist(opened: SealedList, csv_path: Path) -> Path:
    """Write the worklist beside `csv_path` (0600, like the CSV: it names patients); return its path."""
    path = worklist_path(csv_path)
    write_private(path, worklist_html(opened, csv_name=csv_path.name).encode("utf-8"))
    return path
