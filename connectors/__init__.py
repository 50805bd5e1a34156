"""Connectors: read landing extracts into typed records, quarantine bad rows, apply opt-outs at source.

This package works in the identifiable zone. Nothing here logs, prints or raises with a row value:
exceptions name files, columns, line numbers and counts only.

Typical use::

    opt_outs = load_opt_outs(landing)
    non_sharing = load_non_sharing(landing)
    result = ingest_file("apc", landing / "apc/apc_2025-04.csv", landing=landing,
                         opt_outs=opt_outs, non_sharing=non_sharing, load_id="L1")
"""

from connectors.errors import ExtractFileError, ReconciliationError
from connectors.ingest import IngestResult, Reconciliation, ingest_file
from connectors.optouts import OptOuts, load_non_sharing, load_opt_outs
from connectors.reasons import EXCLUSION_REASONS, QUARANTINE_REASONS
from connectors.reference import read_reference

__all__ = [
    "EXCLUSION_REASONS",
    "QUARANTINE_REASONS",
    "ExtractFileError",
    "IngestResult",
    "OptOuts",
    "Reconciliation",
    "ReconciliationError",
    "ingest_file",
    "load_non_sharing",
    "load_opt_outs",
    "read_reference",
]
