"""The public transparency report: what identifiable lists were released, why, and who opted out.

Written for a member of the public, generated on each run into ``HOME/reports/`` as
``transparency.md`` and ``transparency.html`` (same content). Sources, all aggregates:

* the governance register: each approved purpose, its legal basis in plain words, who approved it, its
  dates and whether the National Data Opt-out applies;
* the audit log: lists released per purpose per month, and how many patients they covered, after the
  whole log is verified (keyed MAC chain and head file); the report publishes the log's head
  (seq and MAC) and the governance bundle's hash, so a copy of the report kept by anyone is a witness
  against a later rewrite (``phm audit verify --anchor SEQ:MAC``);
* the warehouse ``opt_out_summary`` table: records removed by each opt-out route, as the warehouse
  publishes it (already under disclosure control, with the other subtotals of that table).

No NHS number, name, token or practice-level patient count appears. Every count of people or records
goes through ``core.disclosure`` (1-7 shown as ``*``, others rounded to 5): patients released through
``round_and_suppress``; opt-outs are taken from the warehouse's protected table, never re-summed. The
number of lists released is a count of events, not of people, and is shown as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl

from core.disclosure import round_and_suppress
from core.files import write_public
from core.layout import Home
from core.tables import markdown_table
from reports import markdown_html, render

from ..keys import KeyProvider
from .audit import AuditError, AuditLog, Head
from .bundle import Governance
from .members import open_warehouse

__all__ = ["OPT_OUT_TABLE", "TransparencyReport", "build_report", "write_report"]

OPT_OUT_TABLE: Final = (
    "opt_out_summary"  # source x month, and route; protected (linkage/warehouse/opt_outs.py)
)

LEGAL_BASIS_TEXT: Final[dict[str, str]] = {
    "individual_care": (
        "Individual care: your own GP practice uses the list to look after you. The law allows this "
        "without asking, as part of your care (UK GDPR Articles 6(1)(e) and 9(2)(h))."
    ),
    "s251": (
        "Section 251 support: the Confidentiality Advisory Group of the Health Research Authority "
        "agreed that this use is in the public interest (NHS Act 2006, section 251)."
    ),
    "consent": "Your consent: the list only includes people who agreed to this use.",
    "public_health": "Public health: protecting the health of the population (UK GDPR Article 9(2)(i)).",
}
ROUTE_TEXT: Final[dict[str, str]] = {
    "ndoo": "National Data Opt-out (registered with NHS England)",
    "type1": "Type 1 opt-out (recorded by your GP practice)",
}
ALL_ROUTES: Final = "Either way (all records removed)"


@dataclass(frozen=True)
class TransparencyReport:
    markdown: str
    html: str
    releases: pl.DataFrame  # purpose, month, lists, people_display
    opt_outs: pl.DataFrame  # route, rows_display


def _audit_entries(home: Home, keys: KeyProvider) -> tuple[list[dict[str, object]], str, Head | None]:
    if not home.audit_log.exists():
        return [], "No lists have been released yet.", None
    try:
        log = AuditLog.for_home(home, keys)
        result = log.verify()
    except AuditError:
        return [], "The release log could not be read or checked; this is being investigated.", None
    lines = home.audit_log.read_text("utf-8").splitlines()[: result.entries]
    state = (
        f"The release log was checked and all {result.entries} entries are intact."
        if result.ok
        else f"The release log failed its integrity check after {result.entries} entries; this is being "
        "investigated and only the entries before the problem are counted here."
    )
    return [json.loads(line) for line in lines], state, result.head


def _releases(entries: list[dict[str, object]]) -> pl.DataFrame:
    granted = [
        {"purpose": str(e["purpose"]), "month": str(e["time"])[:7], "people": int(str(e["count_released"]))}
        for e in entries
        if e.get("outcome") == "granted" and e.get("event") == "release"
    ]
    schema = {"purpose": pl.String, "month": pl.String, "people": pl.Int64}
    frame = pl.DataFrame(granted, schema=schema)
    summary = (
        frame.group_by("purpose", "month")
        .agg(pl.len().cast(pl.Int64).alias("lists"), pl.col("people").sum().cast(pl.Int64))
        .sort("month", "purpose")
    )
    return round_and_suppress(summary, "people").select("purpose", "month", "lists", "people_display")


def _opt_outs(home: Home) -> pl.DataFrame:
    empty = pl.DataFrame(schema={"route": pl.String, "rows_display": pl.String})
    con = open_warehouse(home)
    if con is None:
        return empty
    try:
        tables = {t for (t,) in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
        if OPT_OUT_TABLE not in tables:
            return empty
        # the route subtotals over every source and month, then the total (null route), as published
        return con.sql(
            f"SELECT route, rows_display FROM {OPT_OUT_TABLE} "  # noqa: S608 (fixed table name)
            "WHERE source IS NULL AND month IS NULL ORDER BY route NULLS LAST"
        ).pl()
    finally:
        con.close()


def build_report(
    home: Home, governance: Governance, keys: KeyProvider, *, now: datetime
) -> TransparencyReport:
    """Assemble the report (markdown and HTML) from the installed governance, the audit log and the
    warehouse; ``keys`` gives the audit key the log is verified with."""
    register = governance.register
    today = now.astimezone(UTC).date()
    entries, log_state, head = _audit_entries(home, keys)
    releases = _releases(entries)
    opt_outs = _opt_outs(home)
    titles = {p.id: p.title for p in register.purposes}

    md: list[str] = [
        "# How we use and share your health information",
        "",
        f"_Report produced on {today:%d %B %Y}._",
        "",
        "Health and care services in this area are joined up to find people who may need extra help, "
        "for example people who are becoming frail and have not seen their GP recently. Our analysts "
        "only ever work with records where your name and NHS number have been replaced by a code. "
        "A list showing who someone is can only be sent to a GP practice, only about that practice's "
        "own patients, and only for one of the purposes below. Every request is written down in a "
        "log that cannot be changed without it showing.",
        "",
        "## Why lists of patients may be shared",
        "",
    ]
    for p in register.purposes:
        status = "active" if p.is_active(today) else ("ended" if today >= p.expires_on else "not started")
        md += [
            f"### {p.title}",
            "",
            f"- **Legal reason:** {LEGAL_BASIS_TEXT[p.legal_basis]}"
            + (f" Reference {p.cag_reference}." if p.cag_reference else ""),
            f"- **Approved by:** {p.approving_body}, from {p.approved_on:%d %B %Y} until {p.expires_on:%d %B %Y} "
            f"({status}).",
            "- **National Data Opt-out:** "
            + (
                "respected: if you opted out, you are left out."
                if p.ndoo_applies
                else "does not apply, because this is about your own care by your own practice."
            ),  # fmt: skip
            "- **What is shared:** " + ", ".join(f.replace("_", " ") for f in p.fields) + ".",
            "",
        ]
    md += ["## Lists released each month", "", log_state, ""]
    if releases.height:
        rows = [
            [
                titles.get(str(r["purpose"]), str(r["purpose"])),
                str(r["month"]),
                str(r["lists"]),
                str(r["people_display"]),
            ]
            for r in releases.iter_rows(named=True)
        ]
        md.append(markdown_table(["Purpose", "Month", "Lists sent", "Patients included"], rows))
    else:
        md.append("No lists were released in this period.")
    md += [
        "",
        f"Governance register in force: `{governance.sha256}` (signed by {governance.approver}).",
    ]
    if head is not None:
        md.append(f"Release log head: `{head}` (entry number and its seal, to check the log later).")
    md += [
        "",
        "## Records left out because people opted out",
        "",
        "If you have opted out, your records are removed before they reach our analysts.",
        "",
    ]
    if opt_outs.height:
        md.append(
            markdown_table(
                ["How people opted out", "Records removed"],
                [
                    [
                        ROUTE_TEXT.get(str(r["route"]), str(r["route"])) if r["route"] else ALL_ROUTES,
                        str(r["rows_display"]),
                    ]
                    for r in opt_outs.iter_rows(named=True)
                ],
            )
        )
    else:
        md.append("No opt-out figures are available yet.")
    md += [
        "",
        "## About these numbers",
        "",
        "To protect privacy, numbers from 1 to 7 are shown as `*` and other numbers are rounded to the "
        "nearest 5. You can opt out of your data being used beyond your own care at "
        "https://www.nhs.uk/your-nhs-data-matters/ or ask your GP practice about a Type 1 opt-out.",
        "",
    ]
    markdown = "\n".join(md)
    return TransparencyReport(markdown, _to_html(md), releases, opt_outs)


def _to_html(md_lines: list[str]) -> str:
    """The page: the markdown above (its title as the page title) rendered by `reports`."""
    title, *body = md_lines
    return render("transparency.html.j2", title=title.removeprefix("# "), body=markdown_html("\n".join(body)))


def write_report(
    home: Home, governance: Governance, keys: KeyProvider, *, now: datetime
) -> tuple[Path, Path]:
    """Write ``HOME/reports/transparency.md`` and ``.html`` (atomically); return their paths."""
    report = build_report(home, governance, keys, now=now)
    paths = (home.transparency_report(".md"), home.transparency_report(".html"))
    for path, text in zip(paths, (report.markdown, report.html), strict=True):
        write_public(path, text.encode("utf-8"))
    return paths
