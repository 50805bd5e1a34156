"""The human-facing pages in a real browser (Chromium through Playwright), network blocked: the overview
site, the DQ report, the model card, the transparency report and the clinician's worklist. Each loads
with no console error and every chart drawn; the overview's filters redraw the charts; the worklist
sorts; no page shows a count from 1 to 7 or an identifier, in its text or its embedded data.

The pages come from the session's one shared load (`loaded`, read only); the worklist from a tiny
release home. With PHM_SCREENSHOTS_DIR set (e.g. docs/screenshots), screenshots are written there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.layout import Home
from pseudonymisation.release import open_list
from pseudonymisation.release.release import release
from pseudonymisation.release.transparency import write_report as write_transparency
from pseudonymisation.release.worklist import write_worklist
from tests.fixtures.browser import ARGS, CHROMIUM, Visit, serving
from tests.fixtures.release_home import NOW, make_home

PAGES = ("site/index.html", "dq_latest.html", "model_card.html", "transparency.html")
SHOTS = {"site/index.html": "overview.png", "dq_latest.html": "dq_report.png"}
# Table columns that hold counts of people or records (the headings the pages use).
COUNT_HEADINGS = ("people", "events", "records", "count", "rows checked", "rows failing", "Patients included",
                  "Records removed", "no valid NHS number", "traced exactly", "traced probabilistically", "unmatched")  # fmt: skip
COUNT_CELLS = """(tables, names) => tables.flatMap(t => {
  const rows = Array.from(t.rows);
  if (!rows.length) { return []; }
  const cols = Array.from(rows[0].cells).map((c, i) => names.includes(c.textContent.trim()) ? i : -1).filter(i => i >= 0);
  return rows.slice(1).flatMap(r => cols.map(i => r.cells[i] ? r.cells[i].textContent.trim() : ""));
})"""
NHS_NUMBER = re.compile(r"\b9\d{9}\b|\b9\d{2} \d{3} \d{4}\b")
TOKEN = re.compile(r"\b[PU]\d+-[0-9a-f]{8,}")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Path]:
    """A tiny release home after one granted release (its transparency report written) and the
    practice's folder holding the opened list and its worklist."""
    tiny = make_home(tmp_path_factory.mktemp("release"))
    outcome = release(home=tiny.home, landing=tiny.landing, now=NOW, keys=tiny.keys, purpose="frailty-review",
                      cohort="frail_65_high_risk", practice="A81001", user="gp-a81001")  # fmt: skip
    assert outcome.path is not None
    write_transparency(tiny.home, tiny.governance, tiny.keys, now=NOW)
    folder = tmp_path_factory.mktemp("practice")
    opened = open_list(outcome.path, tiny.practice_keys["A81001"])
    (folder / "list.csv").write_bytes(opened.plaintext)
    write_worklist(opened, folder / "list.csv")
    return tiny.home, folder


@pytest.fixture(scope="module")
def site(loaded: Home, released: tuple[Home, Path]) -> Iterator[str]:
    """The shared load's reports, with the release home's transparency report beside them (a copy:
    the loaded home is never changed)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(loaded.reports, Path(tmp) / "reports")
        shutil.copy(released[0].transparency_report(".html"), Path(tmp) / "reports" / "transparency.html")
        with serving(Path(tmp) / "reports") as base:
            yield base


@pytest.fixture(scope="module")
def worklist(released: tuple[Home, Path]) -> Iterator[str]:
    with serving(released[1]) as base:
        yield f"{base}/list.html"


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("PHM_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def _figures(page: Any) -> list[dict[str, Any]]:
    """Every figure a page embeds (the overview: every area's)."""
    out = []
    for text in page.eval_on_selector_all(
        "script[type='application/json']", "els => els.map(e => e.textContent)"
    ):
        data = json.loads(text)
        if "figures" in data:
            out += [fig for area in data["figures"].values() for fig in area.values()]
        else:
            out.append(data)
    return out


def _small_counts(fig: dict[str, Any]) -> list[float]:
    """Values from 1 to 7 in the count traces of a figure (bars not on a percent axis)."""
    layout = fig["layout"]
    percent = any(layout.get(a, {}).get("tickformat") == ".0%" for a in ("xaxis", "yaxis"))
    found = []
    for trace in fig["data"]:
        if trace.get("type") != "bar" or percent:
            continue
        for v in [*(trace.get("x") or []), *(trace.get("y") or [])]:
            if isinstance(v, int | float) and 1 <= abs(v) <= 7:
                found.append(v)
    return found


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_offline_draws_every_chart_and_shows_no_small_count(
    browser: Any, site: str, name: str
) -> None:
    visit = Visit(browser, site)
    try:
        page = visit.open(f"{site}/{name}")
        assert visit.errors == []
        assert visit.blocked == []  # nothing asked of the network
        charts = page.eval_on_selector_all(
            ".chart", "els => els.map(e => e.querySelectorAll('.main-svg').length)"
        )
        assert all(n > 0 for n in charts)
        if name == "site/index.html":
            assert len(charts) == 8
        text = page.inner_text("body")
        html = page.content()
        for pattern in (NHS_NUMBER, TOKEN, POSTCODE):
            assert pattern.findall(html) == [], pattern.pattern
        cells = page.eval_on_selector_all("table", COUNT_CELLS, list(COUNT_HEADINGS))
        if name in ("dq_latest.html", "model_card.html"):  # the overview has charts only; see _small_counts
            assert cells, "no count column found: the scan would pass on nothing"
        assert [c for c in cells if re.fullmatch(r"[1-7]", c)] == []
        assert [f["layout"]["title"]["text"] for f in _figures(page) if _small_counts(f)] == []
        assert "SUPPRESSED" not in text
        if name in SHOTS:
            _shot(page, SHOTS[name])
    finally:
        visit.close()


def test_a_filter_redraws_every_chart(browser: Any, site: str) -> None:
    visit = Visit(browser, site)
    try:
        page = visit.open(f"{site}/site/index.html")
        before = page.evaluate(
            "Array.from(document.querySelectorAll('.chart')).map(e => JSON.stringify(e.data))"
        )
        people = page.inner_text("[data-headline='People registered']")
        place = page.eval_on_selector("#filter-place option:nth-child(2)", "o => o.value")
        page.select_option("#filter-place", place)
        page.wait_for_function(
            "Array.from(document.querySelectorAll('.chart')).every(e => e.dataset.drawn === '1')",
            timeout=30_000,
        )
        after = page.evaluate(
            "Array.from(document.querySelectorAll('.chart')).map(e => JSON.stringify(e.data))"
        )
        assert len(after) == 8
        changed = [a != b for a, b in zip(before, after, strict=True)]
        assert sum(changed) >= 6  # the place's own figures (a chart with one area's data may look alike)
        assert page.inner_text("[data-headline='People registered']") != people
        assert page.inner_text("#area-label") == place.removeprefix("place:")
        page.select_option("#filter-practice", index=1)
        assert page.eval_on_selector("#filter-place", "s => s.value") == ""  # one area at a time
        assert visit.errors == []
    finally:
        visit.close()


def test_the_worklist_sorts_and_prints(browser: Any, worklist: str) -> None:
    visit = Visit(browser, worklist.rsplit("/", 1)[0])
    try:
        page = visit.open(worklist)
        column = "els => els.map(r => r.cells[3].textContent)"
        page.click("#worklist th[data-col='3']")  # risk score
        up = page.eval_on_selector_all("#worklist tbody tr", column)
        assert len(up) >= 2 and up == sorted(up, key=float)
        page.click("#worklist th[data-col='3']")
        down = page.eval_on_selector_all("#worklist tbody tr", column)
        assert down == sorted(up, key=float, reverse=True)
        _shot(page, "worklist.png")
        page.emulate_media(media="print")
        assert page.is_hidden(".noprint")
        assert visit.errors == [] and visit.blocked == []
    finally:
        visit.close()
