"""The public transparency report: purposes, releases per purpose per month, opt-out removals, suppressed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pseudonymisation.release import AuditLog
from pseudonymisation.release.release import release
from pseudonymisation.release.transparency import build_report, write_report
from tests.fixtures.html_tables import count_cells, shown_as_count
from tests.fixtures.release_home import NOW, TinyHome, copy_home, make_home


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module; tests change it, so each takes a copy."""
    return make_home(tmp_path_factory.mktemp("installed"))


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    return copy_home(installed, tmp_path)


def _grant(tiny: TinyHome, practice: str, seconds: int) -> None:
    outcome = release(
        home=tiny.home,
        landing=tiny.landing,
        purpose="frailty-review",
        cohort="frail_65_high_risk",
        practice=practice,
        user={"A81001": "gp-a81001", "A81002": "gp-pcn-u12345"}[practice],
        now=NOW + timedelta(seconds=seconds),
        keys=tiny.keys,
    )
    assert outcome.granted


def test_report_counts_releases_per_purpose_per_month_with_suppression(tiny: TinyHome) -> None:
    _grant(tiny, "A81001", 0)  # 3 patients
    _grant(tiny, "A81002", 1)  # 1 patient
    release(
        home=tiny.home,
        landing=tiny.landing,
        purpose="old-pilot",
        cohort="frail_65_high_risk",
        practice="A81001",
        user="gp-a81001",
        now=NOW,
        keys=tiny.keys,
    )  # denied: not counted
    report = build_report(tiny.home, tiny.governance, tiny.keys, now=NOW)
    assert report.releases.to_dicts() == [
        {"purpose": "frailty-review", "month": "2026-11", "lists": 2, "people_display": "*"}
    ]
    # Opt-out routes as opt_out_summary publishes them: ndoo 40 + 3 = 43 -> 45; type1 12 -> 10; both 55.
    assert report.opt_outs.to_dicts() == [
        {"route": "ndoo", "rows_display": "45"},
        {"route": "type1", "rows_display": "10"},
        {"route": None, "rows_display": "55"},
    ]
    assert "| Either way (all records removed) | 55 |" in report.markdown
    md = report.markdown
    assert "Proactive frailty review by the patient's own practice" in md
    assert "Section 251 support" in md and "23/CAG/0001" in md
    assert "| Proactive frailty review by the patient's own practice | 2026-11 | 2 | * |" in md
    assert "all 5 entries are intact" in md  # approver add, bundle install, three requests
    head = AuditLog.for_home(tiny.home, tiny.keys).verify().head
    assert f"Release log head: `{head}`" in md and str(head).startswith("5:")
    assert f"Governance register in force: `{tiny.governance.sha256}` (signed by ig-lead)." in md
    assert "A81001" not in md  # no practice-level figures
    for value in tiny.people["nhs_number"].to_list() + tiny.people["person_token"].to_list():
        assert value not in md and value not in report.html


def test_report_files_are_written(tiny: TinyHome) -> None:
    md_path, html_path = write_report(tiny.home, tiny.governance, tiny.keys, now=NOW)
    assert md_path == tiny.home.reports / "transparency.md"
    assert html_path.read_text().startswith("<!DOCTYPE html>")
    assert "<table>" in html_path.read_text()
    assert "No lists were released in this period." in md_path.read_text()


def test_a_log_rewritten_without_the_key_is_reported_not_trusted(tiny: TinyHome) -> None:
    _grant(tiny, "A81001", 0)
    lines = tiny.home.audit_log.read_text().splitlines()
    tiny.home.audit_log.write_text("\n".join(lines[:2]) + "\n")  # the grant deleted
    md = build_report(tiny.home, tiny.governance, tiny.keys, now=NOW).markdown
    assert "The release log failed its integrity check after 2 entries" in md


def test_the_rendered_report_shows_counts_of_people_and_records_only_as_published(tiny: TinyHome) -> None:
    """Read back from the HTML page: patients included and records removed are counts (published
    values only); lists sent is a count of events, not of people, and is shown as it is."""
    _grant(tiny, "A81001", 0)  # 3 patients
    _grant(tiny, "A81001", 1)  # 3 again: 6 in the month
    _, html_path = write_report(tiny.home, tiny.governance, tiny.keys, now=NOW)
    page = html_path.read_text()
    patients = count_cells(page, {"Patients included"})
    records = count_cells(page, {"Records removed"})
    assert (patients, records) == (["*"], ["45", "10", "55"])
    assert all(shown_as_count(c) for c in patients + records)
    assert count_cells(page, {"Lists sent"}) == ["2"]
