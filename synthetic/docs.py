"""Render docs/extracts.md, the landing data dictionary, from connectors/spec.py.

Regenerate after any change to the spec or to the injected defects:
``python -c "from synthetic.docs import write; write()"`` (a test keeps the file current).
"""

from __future__ import annotations

from pathlib import Path

from connectors.spec import EXTRACTS, PATTERNS, REGISTERS, extract_filename
from synthetic.config import DefectRates
from synthetic.defects import CODE_COLUMN, GP, SECONDARY_CARE, ethnicity_rate, missing_nhs_rate
from synthetic.docs_dbs import dbs_markdown

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "extracts.md"


def _defects(source: str) -> list[str]:
    r = DefectRates()
    spec = EXTRACTS[source]
    out = []
    if (m := missing_nhs_rate(source, r)) > 0:
        out.append(f"NHS number missing (~{m:.1%} of rows)")
    if source in SECONDARY_CARE:
        out.append(f"NHS number with a wrong check digit (~{r.bad_check_digit:.1%})")
    if source not in GP:
        out.append(
            f"NHS number formatted with spaces or dashes, e.g. `999 123 4567` (~{r.nhs_formatted:.0%})"
        )
    if source == "gp_patients":
        out.append(
            f"ethnic category blank (~{r.missing_ethnicity_gp:.0%} of patients on average; varies by "
            "practice, some 25%+)"
        )
    elif (e := ethnicity_rate(source, r)) > 0:
        out.append(f"ethnic category blank (~{e:.0%})")
    out.append(f"exact duplicate rows, each right after its original (~{r.duplicate_row:.1%})")
    target = "date of birth" if source == "gp_patients" else f"`{spec.column(spec.activity_date).name}`"
    out.append(f"{target} impossible (e.g. 30 February) or after the file's month (~{r.bad_date:.1%})")
    if source in CODE_COLUMN:
        col = spec.column(CODE_COLUMN[source][0]).name
        out.append(f"`{col}` well-formed but in no shipped code list (~{r.unknown_code:.1%})")
        messy = col
    else:
        canon = [c.canonical for c in spec.columns]
        messy = spec.column("practice_code" if "practice_code" in canon else "postcode").name
    out.append(f"`{messy}` lower-cased or padded with spaces (~{r.messy_code:.0%})")
    out.append(f"malformed line: an extra field or an unbalanced opening quote (~{r.malformed_line:.2%})")
    if source == "asc_cld":
        out += [
            f"a name misspelt by one character (~{r.misspelt_name:.0%})",
            f"given and family names swapped (~{r.swapped_names:.0%})",
            f"date of birth transposed: day/month swapped or year digits swapped (~{r.transposed_dob:.0%})",
            f"postcode of the previous address after a move (~{r.stale_postcode:.0%} of such rows)",
        ]
    return out


# How files are delivered and accounted for (connectors/landing.py, connectors/manifest.py).
DELIVERY: list[str] = [
    "",
    "## Delivery: names, formats, resubmissions, control totals",
    "",
    "- **Names.** `landing/<source>/<source>_<YYYY-MM>.csv`, or `.csv.gz` (gzip; decompressed on read).",
    "  Parquet and other formats are not read: such a file is listed as `unsupported format`.",
    "- **Resubmission.** `<source>_<YYYY-MM>_v<N>.csv[.gz]` with N >= 2 replaces every earlier delivery",
    "  of that month (the original counts as version 1): the month's staged records are rebuilt from it,",
    "  the earlier files are listed as `superseded` (`replaced by ...`). Two deliveries of the same month",
    "  and version (e.g. `.csv` and `.csv.gz`) load neither: `two deliveries of the same month and version`.",
    "- **Control totals.** A delivery may carry `<file name>.manifest.json` beside it, e.g.",
    '  `{"file": "apc_2026-03.csv", "rows": 1234, "sha256": "<64 hex digits>"}`: `rows` counts data',
    "  lines (the header excluded), `sha256` is over the bytes as delivered (compressed, for `.csv.gz`).",
    "  A mismatch fails that file only, with the reason; a missing manifest is a warning (`no manifest",
    "  (control totals not checked)`), the file still loads. The synthetic generator writes one per file.",
    "- **Regular files only.** Each entry is opened with `O_NOFOLLOW | O_NONBLOCK` and checked with",
    "  `fstat`: a symbolic link is refused (never followed, even to a file inside landing), and a FIFO,",
    "  device or socket is refused by name without the open ever blocking.",
    "- **Line ends.** LF or CRLF. A bare CR (old Mac line ends) fails the file, naming its first line.",
    "- **Inventory.** Every entry under `landing/` is accounted for: `loaded`, `superseded`, `register`,",
    "  `manifest`, `skipped`, or `not_loaded` with a reason (`unexpected name`, `unsupported format`,",
    "  `not a regular file (FIFO)`, `outside the months requested`, ...). `phm run` prints the entries",
    "  that were not simply loaded, the warehouse's `load_log` keeps one row per entry, and `phm run`",
    "  exits 1 when an entry was not loaded unless acknowledged: `--skip PATH` (repeatable, the path",
    "  under landing) or `--skip-unloaded` (all). `--months YYYY-MM[:YYYY-MM]` loads only those months;",
    "  any delivered month can be loaded, including one older than those already loaded.",
    "- **Opt-out registers fail closed.** Each `NHS_Number` on the NDOO register is normalised as the",
    "  extracts' are (spaces, dashes, a leading apostrophe, a trailing `.0`, scientific notation only",
    "  when all ten digits are there); an entry that still is not a valid NHS number, or a malformed",
    "  line, stops the load with the register's line numbers (never the value). Type 1 objections are",
    "  read from every GP events delivery in landing (every month and version) and kept from earlier",
    "  loads in `HOME/identifiable/opt_outs.parquet`, so a one-month re-run honours all of them.",
]


def render_extracts_markdown() -> str:
    """The data dictionary of every landing file, as Markdown."""
    lines = [
        "# Landing extracts: data dictionary",
        "",
        "<!-- Generated by synthetic/docs.py from connectors/spec.py: do not edit by hand. -->",
        "",
        "Every source delivers one CSV per month at `landing/<source>/<source>_<YYYY-MM>.csv` (UTF-8, comma",
        "separated, header row, `\\n` line ends). A row sits in the file of the month of its activity date.",
        "Files are written without quoting and no clean value contains a comma, quote or line break, so",
        "each physical line is one record. Standard (RFC 4180) CSV quoting is still accepted: the connector",
        '(`connectors/rawfile.py`) parses a quoted field holding commas, doubled quotes (`""`) or line',
        "breaks (a record then spans up to 20 physical lines and is numbered by its first). Treat a line with",
        "the wrong number of fields, or a stray or unbalanced quote, as malformed (quarantine it with its",
        "line number). See *Column rules* at the end for what every value must look like.",
        "Dates other than the activity date (discharge, end dates) may legitimately fall after the file's month.",
        "",
        "## Sources",
        "",
        "| source | setting | modelled on | file |",
        "|---|---|---|---|",
    ]
    for e in EXTRACTS.values():
        lines.append(
            f"| `{e.source}` | {e.setting} | {e.modelled_on} | `{extract_filename(e.source, 'YYYY-MM')}` |"
        )
    for e in EXTRACTS.values():
        lines += [
            "",
            f"## `{e.source}`",
            "",
            e.description,
            "",
            f"- Modelled on: {e.modelled_on}",
            f"- Date format: `{e.date_format}`; activity date: `{e.column(e.activity_date).name}`",
            f"- Record id: `{e.column(e.record_id).name}`" if e.record_id else "- Record id: none",
            "",
            "| column | canonical | type | required | identifiable | value | max length | description |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in e.columns:
            lines.append(
                f"| `{c.name}` | `{c.canonical}` | {c.dtype} | {'yes' if c.required else ''} | "
                f"{'yes' if c.identifiable else ''} | {c.shape} | {c.max_length} | {c.description} |"
            )
        lines += ["", "Defects the synthetic generator injects (rates are defaults of `DefectRates`):", ""]
        lines += [f"- {d}" for d in _defects(e.source)]
    lines += DELIVERY
    lines += ["", "## Registers and reference files", ""]
    for reg in REGISTERS:
        lines += [f"### `landing/{reg.path}`", "", reg.description, ""]
        if reg.columns:
            lines += ["| column | description |", "|---|---|"]
            lines += [f"| `{n}` | {d} |" for n, d in reg.columns]
            lines.append("")
    lines += [*dbs_markdown(), ""]
    lines += ["## Patterns", "", "| name | regular expression |", "|---|---|"]
    lines += [f"| `{k}` | `{v}` |" for k, v in PATTERNS.items()]
    lines += ["", *COLUMN_RULES]
    return "\n".join(lines) + "\n"


COLUMN_RULES = [
    "## Column rules",
    "",
    "Every value is checked against its column (`connectors/validate.py`); a row that breaks a rule is",
    "quarantined with the first reason that applies (`connectors/reasons.py`), never loaded as text:",
    "",
    "- **Clean**: no NUL or other control character (tab, escape, DEL, a carriage return inside a line)",
    "  anywhere in the record (`control_character`). A line break only inside a quoted field.",
    "- **Bounded**: no value longer than the column's *max length* (`value_too_long`).",
    "- **Typed**: dates parse with the feed's date format (`invalid_date`); numbers parse and sit inside",
    "  the column's bounds (`invalid_number`); a value with a pattern matches it after trimming and upper",
    "  casing, and a categorical value is on its code list, compared case-insensitively (`invalid_code`).",
    "  A SNOMED CT or dm+d column holding a valid NHS number is `identifier_in_field`.",
    "- **Free text** is declared: only the names and the address line are, they are identifiable, used",
    "  for tracing and dropped by de-identification, so no free text reaches the warehouse.",
    "- **Sex**: a value not among the known codes becomes `U` (unknown) rather than losing the row.",
    "- **NHS number**: optional outside GP feeds (an invalid one is nulled, flagged in `nhs_number_status`",
    "  and the row traced); required in GP feeds, whose rows are never traced, so a missing one is",
    "  `missing_required` and an invalid one `invalid_nhs_number`: no GP row is counted loaded without a",
    "  token, and no patient's death or registration disappears unaccounted.",
    "- **Dates in the future**: an activity date (or date of birth) after the file's month is `future_date`,",
    "  at row level, before anything is published.",
]


def write(path: Path = DOC_PATH) -> None:
    path.write_text(render_extracts_markdown())
