"""The DBS section of docs/extracts.md: the national batch tracing files, rendered from `linkage.dbs`."""

from __future__ import annotations

from linkage.dbs import OUTCOMES, QUARANTINE_REASONS, REQUEST_COLUMNS, RESPONSE_COLUMNS
from synthetic.national_service import STAGES, ServiceErrors

_CODE_WORDS = {
    "00": "traced: `MATCHED_NHS_NO` fills the NHS number (`link_method` `dbs`)",
    "90": "traced to the current number of a superseded one: applied as `00`",
    "97": "multiple close matches: stays untraced, counted (`dbs/multiple_match`)",
    "98": "not found: stays untraced, counted (`dbs/no_match`)",
    "91": "invalid request data: stays untraced, counted (`dbs/not_traced`)",
    "92": "sensitive record: not used, on purpose (stays untraced, counted as `dbs/not_traced`)",
    "96": "not enough data to trace: stays untraced, counted (`dbs/not_traced`)",
    "15": "no trace performed: stays untraced, counted (`dbs/not_traced`)",
}


def dbs_markdown() -> list[str]:
    """Lines of the section on the Demographics Batch Service request and response files."""
    errors = ServiceErrors()
    lines = [
        "## National batch tracing: the DBS request and response",
        "",
        "Records that local tracing (exact passes, then Splink against the GP master) leaves unmatched",
        "are traced nationally through NHS England's Demographics Batch Service (DBS), which knows every",
        "NHS number, including the people registered at non-sharing practices whom the GP master never",
        "sees. The files follow the batch tracing CSV layout (header row, one row per record, CRLF line",
        "ends, dates `YYYYMMDD`, `GENDER` 0 not known / 1 male / 2 female / 9 not specified).",
        "",
        "- **Request** (written by the trace stage, never into landing):",
        "  `HOME/identifiable/outbox/dbs/dbs_request_<stem>.csv`, 0600 in 0700 folders. One row per distinct",
        "  untraced description that has no answer yet; `UNIQUE_REFERENCE` is `PHM` + 20 hex digits of a",
        "  SHA-256 over the normalised demographics (stable across runs; spellings that normalise alike",
        "  share one row). Every reference issued is kept in `HOME/identifiable/dbs/requests.parquet`.",
        "  `NHS_NO` is blank: the records sent have no valid NHS number (an invalid one never travels).",
        "  Names are sent as trace keys (upper case A-Z), postcodes normalised. No request is written when",
        "  every untraced record already has an answer.",
        "- **Stem.** The load's latest month, `YYYY-MM`; if `landing/dbs/dbs_response_<YYYY-MM>.csv`",
        "  already answered that batch, the next batch is `YYYY-MM_2`, then `_3`, ... A batch not yet",
        "  answered is rewritten by the next load with what is pending then.",
        "- **Response** (dropped by the DBS client, or by the demo's synthetic service during `phm run`):",
        "  `landing/dbs/dbs_response_<stem>.csv`. Every response in `landing/dbs/` is read by each load,",
        "  in batch order (a later answer for the same reference wins); the inventory lists them as",
        "  `trace_response`. A request without a response is not an error: the run counts it as",
        "  `dbs/awaiting_response` and applies the answer on the next run after it arrives.",
        "",
        "| request column | filled with |",
        "|---|---|",
        "| " + ", ".join(f"`{c}`" for c in REQUEST_COLUMNS[:8]) + " | reference, blank, family name, "
        "given name, blank, gender code, date of birth, postcode |",
        "| " + ", ".join(f"`{c}`" for c in REQUEST_COLUMNS[8:]) + " | blank (the layout's other fields) |",
        "",
        "Response columns read (others, e.g. the PDS demographics a live response returns, are ignored and",
        "never kept): " + ", ".join(f"`{c}`" for c in RESPONSE_COLUMNS) + ".",
        "",
        "| `ERROR_SUCCESS_CODE` | outcome |",
        "|---|---|",
        *[f"| `{code}` | {_CODE_WORDS[code]} |" for code in OUTCOMES],
        "",
        "A traced row's confidence is `MATCHED_CONFIDENCE_PERCENTAGE` / 100 (`link_confidence`). Opt-outs",
        "are re-checked on the traced numbers like any trace (the pseudonymise stage), so a DBS-traced",
        "record of someone on the National Data Opt-out is dropped and counted as opted out.",
        "",
        "Bad response rows are quarantined, never loaded and never printed:",
        "`HOME/identifiable/quarantine/dbs/<stem>.parquet` keeps (file, line, reason, reference), not the values, and the warehouse's",
        "`quarantine_summary` gets the counts (source `dbs_response`). The first reason that applies:",
        "",
        "| reason | meaning |",
        "|---|---|",
        *[f"| `{r}` | {d} |" for r, d in QUARANTINE_REASONS.items()],
        "",
        "A response that is not a CSV with the columns above is refused whole, naming the file.",
        "",
        "The synthetic national service (`synthetic/national_service.py`, demo only) traces in stages, most",
        "specific first, each accepted only when it points to one person (several: `97`; none: `98`):",
        "; ".join(f"{' + '.join(keys)} ({pct:.0f} %)" for keys, _, pct in STAGES)
        + f". It misses ~{errors.missed:.0%} of the people it would trace (`98`) and answers"
        f" ~{errors.wrong:.1%} with another person's number, seeded by the generator's seed.",
    ]
    return lines
