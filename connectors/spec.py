"""The extract specification: every landing file the pipeline reads, column by column.

One source of truth shared by the synthetic generator (which writes files to this shape), the
connectors (which read, type and validate them) and `docs/extracts.md` (generated from it). Column
names in the files follow the real national datasets the extract is modelled on (SUS/HES APC, ECDS,
CSDS, MHSDS, Adult Social Care CLD, GP system extracts); each column also has a canonical name used
inside the pipeline, so downstream code never needs to know a feed's spelling.

Files live at ``landing/<source>/<source>_<YYYY-MM>.csv`` (UTF-8, comma separated, header row), one
file per source per month. Registers and reference files live in ``landing/registers/`` and
``landing/reference/``.

This module is the catalogue and the one place to import any of it from: the extracts are defined by
setting (`extracts_gp`, `extracts_hospital`, `extracts_community`) in the vocabulary of
`connectors.columns`; `connectors.registers` documents the registers, `connectors.codes` the code lists.
"""

from __future__ import annotations

from connectors.codes import ETHNIC_CATEGORIES, ETHNIC_GROUPS, TYPE1_OPT_OUT_SNOMED
from connectors.columns import PATTERNS, Column, DType, Extract
from connectors.extracts_community import ASC_CLD, CSDS, MHSDS
from connectors.extracts_gp import GP_EVENTS, GP_MEDICATIONS, GP_PATIENTS
from connectors.extracts_hospital import APC, ECDS, OUTPATIENTS
from connectors.registers import REGISTERS, Register

EXTRACTS: dict[str, Extract] = {
    e.source: e
    for e in (GP_PATIENTS, GP_EVENTS, GP_MEDICATIONS, APC, ECDS, OUTPATIENTS, CSDS, MHSDS, ASC_CLD)
}
SOURCES: tuple[str, ...] = tuple(EXTRACTS)
GP_SOURCES: frozenset[str] = frozenset({"gp_patients", "gp_events", "gp_medications"})


def extract_filename(source: str, month: str) -> str:
    """Relative path of a source's file for a month ('YYYY-MM') under landing/."""
    return f"{source}/{source}_{month}.csv"


__all__ = [
    "APC",
    "ASC_CLD",
    "CSDS",
    "ECDS",
    "ETHNIC_CATEGORIES",
    "ETHNIC_GROUPS",
    "EXTRACTS",
    "GP_EVENTS",
    "GP_MEDICATIONS",
    "GP_PATIENTS",
    "GP_SOURCES",
    "MHSDS",
    "OUTPATIENTS",
    "PATTERNS",
    "REGISTERS",
    "SOURCES",
    "TYPE1_OPT_OUT_SNOMED",
    "Column",
    "DType",
    "Extract",
    "Register",
    "extract_filename",
]
