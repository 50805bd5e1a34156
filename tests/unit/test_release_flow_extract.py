"""Domain extracts: tokens that cannot be joined across recipients or to the warehouse; opt-outs now;
aggregates under disclosure control; no NHS number anywhere; governed and audited like a release."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pseudonymisation.release.extract import ExtractError, ExtractOutcome, domain_tokens, extract
from tests.fixtures.release_home import COHORT, NOW, TinyHome, copy_home, make_home, nhs_number, write_landing


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module, its five cohort members in one risk tier:
    the coarsest rungs of the ladder keep the tier, so five people in three tiers could not reach k = 5
    (a refusal, tested below). Tests change it, so each takes its own copy (`tiny`)."""
    home = make_home(tmp_path_factory.mktemp("installed"))
    with duckdb.connect(str(home.home.warehouse)) as con:
        con.execute("UPDATE risk_score SET risk_tier = 'high'")
    return home


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    return copy_home(installed, tmp_path)


def _extract(tiny: TinyHome, domain: str, out: Path | None = None, **who: str) -> ExtractOutcome:
    args = {"user": "analyst-a", "purpose": "research-extract", **who}
    return extract(home=tiny.home, landing=tiny.landing, domain=domain, cohort=COHORT, keys=tiny.keys, now=NOW,
                   out=out, **args)  # fmt: skip


def _extract_entries(tiny: TinyHome) -> list[dict[str, object]]:
    lines = tiny.home.audit_log.read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "extract"]


def test_two_domains_share_no_token_and_neither_matches_the_warehouse(tiny: TinyHome, tmp_path: Path) -> None:
    a = _extract(tiny, "research-a", tmp_path / "a.csv")
    b = _extract(tiny, "research-b", tmp_path / "b.csv")
    tokens_a = set(pl.read_csv(a.path)["domain_token"].to_list())
    tokens_b = set(pl.read_csv(b.path)["domain_token"].to_list())
    assert len(tokens_a) == len(tokens_b) == 5
    assert not tokens_a & tokens_b
    warehouse = set(tiny.people["person_token"].to_list())
    assert not (tokens_a | tokens_b) & warehouse
    assert all(t.startswith("E1-") and len(t) == 35 for t in tokens_a)


def test_domain_tokens_are_stable_within_a_domain(tiny: TinyHome) -> None:
    tokens = tiny.people["person_token"]
    assert (
        domain_tokens(tokens, tiny.keys, "research-a", "research-extract").to_list()
        == domain_tokens(tokens, tiny.keys, "research-a", "research-extract").to_list()
    )


def test_extract_rows_hold_no_identifier_and_files_are_private(tiny: TinyHome) -> None:
    outcome = _extract(tiny, "research-a")
    frame = pl.read_csv(outcome.path, infer_schema=False)
    assert frame.columns == ["domain_token", "age_band", "sex", "imd", "risk_tier", "risk_band"]
    # five people with no age, sex or IMD in this warehouse and scores in different bands: the broad
    # level (risk score suppressed) makes one class of five, and the tier still says something
    assert frame.drop("domain_token").unique().rows() == [("unknown", "unknown", "unknown", "high", "*")]
    text = outcome.path.read_text() + outcome.aggregates_path.read_text()
    assert all(n not in text for n in tiny.people["nhs_number"].to_list())
    assert all(t not in text for t in tiny.people["person_token"].to_list())
    assert stat.S_IMODE(outcome.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(outcome.path.parent.stat().st_mode) == 0o700


def test_aggregates_are_suppressed_and_rounded(tiny: TinyHome) -> None:
    outcome = _extract(tiny, "research-a")
    aggregates = pl.read_csv(outcome.aggregates_path, infer_schema=False)
    # Five people in all, spread over tiers: every non-zero cell (and the total, 5) is 1-7 -> suppressed.
    shown = set(aggregates["people_display"].to_list())
    assert shown <= {"*", "0"}


def test_opt_outs_are_rechecked_now_and_three_people_cannot_reach_k_5(tiny: TinyHome) -> None:
    write_landing(tiny.landing, ndoo=[nhs_number(100)], type1=[nhs_number(500)])
    with pytest.raises(ExtractError) as caught:
        _extract(tiny, "research-a")
    assert str(caught.value) == (
        "k >= 5 cannot be reached with a useful coding: at the coarsest allowed level (tier) the smallest "
        "class has 3 of 3 people after opt-outs"
    )
    assert caught.value.reason == "k_anonymity_unreachable"
    [entry] = _extract_entries(tiny)
    assert (entry["outcome"], entry["reason"], entry["count_released"]) == (
        "denied",
        "k_anonymity_unreachable",
        0,
    )
    assert not (tiny.home.root / "extracts" / "research-a").exists()


def test_bad_domain_is_refused(tiny: TinyHome) -> None:
    with pytest.raises(ExtractError) as caught:
        _extract(tiny, "Bad Domain!")
    assert caught.value.reason == "domain_not_permitted"


def test_an_extract_is_audited_with_user_purpose_count_and_file_hash(tiny: TinyHome) -> None:
    outcome = _extract(tiny, "research-a")
    [entry] = _extract_entries(tiny)
    assert {k: entry[k] for k in ("outcome", "user", "purpose", "cohort", "practice", "count_released")} == {
        "outcome": "granted", "user": "analyst-a", "purpose": "research-extract", "cohort": COHORT,
        "practice": None, "count_released": 5,
    }  # fmt: skip
    assert entry["output_sha256"] == hashlib.sha256(outcome.path.read_bytes()).hexdigest()
    assert entry["register_sha256"] == tiny.governance.sha256
    assert outcome.audit_seq == entry["seq"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"user": "nobody"}, "unknown_user"),
        ({"user": "gp-a81001"}, "requester_not_permitted"),  # R8000 may not take research extracts
        ({"purpose": "frailty-review"}, "domain_not_permitted"),  # a release purpose, not an extract one
        ({"purpose": "invented"}, "unknown_purpose"),
    ],
)
def test_refused_extracts_are_audited_and_write_nothing(
    tiny: TinyHome, kwargs: dict[str, str], reason: str
) -> None:
    with pytest.raises(ExtractError) as caught:
        _extract(tiny, "research-a", None, **kwargs)
    assert caught.value.reason == reason
    [entry] = _extract_entries(tiny)
    assert (entry["outcome"], entry["reason"], entry["count_released"]) == ("denied", reason, 0)
    assert not (tiny.home.root / "extracts").exists()


def test_out_folder_must_exist_and_keeps_its_permissions(tiny: TinyHome, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    done = _extract(tiny, "research-a", shared / "a.csv")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE(done.path.stat().st_mode) == 0o600
    with pytest.raises(ExtractError, match=r"^no folder .*/missing to write the extract into$"):
        _extract(tiny, "research-a", tmp_path / "missing" / "a.csv")


def test_default_folder_is_private(tiny: TinyHome) -> None:
    done = _extract(tiny, "research-a")
    assert done.path.parent == tiny.home.root / "extracts" / "research-a"
    assert stat.S_IMODE(done.path.parent.stat().st_mode) == 0o700


def test_domain_token_is_hmac_of_the_warehouse_token_under_the_extract_key(tiny: TinyHome) -> None:
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = tiny.keys.token_key()
    secret = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"phm-extract|research-extract|research-a|v1"
    ).derive(key.material)
    token = tiny.people["person_token"][0]
    expected = "E1-" + hmac.new(secret, token.encode("ascii"), hashlib.sha256).hexdigest()[:32]
    tokens = domain_tokens(pl.Series([token, None]), tiny.keys, "research-a", "research-extract")
    assert tokens.to_list() == [expected, None]
