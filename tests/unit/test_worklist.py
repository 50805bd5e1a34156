"""`phm open-list --out` writes the clinician's HTML worklist beside the decrypted CSV (at the practice,
from the sealed file's authenticated header), and the release itself writes no page."""

from __future__ import annotations

import csv
import io
import json
import stat
from html import escape
from pathlib import Path

import pytest

from pseudonymisation.release import OpenListError, open_list
from pseudonymisation.release.release import release
from tests.fixtures.cli import phm
from tests.fixtures.release_home import NOW, TinyHome, make_home


@pytest.fixture
def released(tmp_path: Path) -> tuple[TinyHome, Path]:
    tiny = make_home(tmp_path)
    outcome = release(home=tiny.home, landing=tiny.landing, now=NOW, keys=tiny.keys, purpose="frailty-review",
                      cohort="frail_65_high_risk", practice="A81001", user="gp-a81001")  # fmt: skip
    assert outcome.granted and outcome.path is not None
    return tiny, outcome.path


def test_open_list_writes_the_worklist_beside_the_csv(
    released: tuple[TinyHome, Path], tmp_path: Path
) -> None:
    tiny, sealed = released
    out = tmp_path / "practice" / "list.csv"
    out.parent.mkdir()
    result = phm("open-list", str(sealed), "--key", str(tiny.practice_keys["A81001"]), "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = out.with_suffix(".html")
    assert result.stdout.strip().endswith(f"into {out} (worklist {page})")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    html = page.read_text("utf-8")
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8"))))
    assert rows[0] == ["nhs_number", "reason", "risk_tier", "risk_score"]  # the approved fields only
    assert '<th class="sortable" data-col="0">nhs number</th>' in html
    for row in rows[1:]:
        assert "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" in html  # escaped: A&amp;E
    assert f'<td id="patient-count">{len(rows) - 1}</td>' in html
    assert "<th>Practice</th><td>A81001</td>" in html
    assert "<th>Released on</th><td>" + NOW.strftime("%d %B %Y") + "</td>" in html
    assert "Individual care: your own GP practice uses the list" in html
    assert "phm open-list" in html and "To query an entry" in html
    assert "http://" not in html and "https://" not in html and "<script src" not in html


def test_an_altered_legal_basis_does_not_open(released: tuple[TinyHome, Path], tmp_path: Path) -> None:
    tiny, sealed = released
    line, _, rest = sealed.read_bytes().partition(b"\n")
    header = json.loads(line)
    assert header["legal_basis"] == "individual_care" and header["released_on"] == NOW.date().isoformat()
    header["legal_basis"] = "consent"
    forged = tmp_path / "forged.csv.hpke"
    forged.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    with pytest.raises(OpenListError, match="does not open with this key"):
        open_list(forged, tiny.practice_keys["A81001"])


def test_the_release_side_writes_no_worklist(released: tuple[TinyHome, Path]) -> None:
    tiny, sealed = released
    assert sorted(p.name for p in sealed.parent.iterdir()) == [sealed.name]  # the sealed file only
    assert not list(tiny.home.outbox.rglob("*.html"))


def test_an_out_path_ending_in_html_is_a_usage_error(released: tuple[TinyHome, Path], tmp_path: Path) -> None:
    tiny, sealed = released
    out = tmp_path / "list.html"
    result = phm("open-list", str(sealed), "--key", str(tiny.practice_keys["A81001"]), "--out", str(out))
    assert result.returncode == 2
    assert "the worklist is written beside it as .html" in result.stderr
    assert not out.exists()
