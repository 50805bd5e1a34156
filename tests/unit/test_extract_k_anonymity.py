"""`phm extract` as an attacker would test it: every row shares its values with at least k-1 others
(k >= 5), risk scores leave only as bands, and two recipients' extracts (or an extract and the
warehouse) join on no column set to fewer than k people; an extract that cannot reach k is refused."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pseudonymisation.release.extract import ExtractError, ExtractOutcome, domain_tokens, extract
from pseudonymisation.release.generalise import LADDER, QUASI_IDENTIFIERS, KNotReached, generalise
from pseudonymisation.tokens import Tokeniser
from tests.fixtures.release_home import BUILT_AT, COHORT, NOW, REGISTER_YAML, TinyHome, make_home, nhs_number

PEOPLE = 240


def _population(seed: int = 5) -> pl.DataFrame:
    """240 people with near-unique quasi-identifiers: birth month, sex, IMD decile, a 4-d.p. score."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.beta(2, 6, PEOPLE), 4)
    return pl.DataFrame(
        {
            "nhs_number": [nhs_number(10_000 + 60 * i) for i in range(PEOPLE)],
            "birth_year_month": [
                f"{y}-{m:02d}"
                for y, m in zip(rng.integers(1930, 2000, PEOPLE), rng.integers(1, 13, PEOPLE), strict=True)
            ],  # fmt: skip
            "sex": rng.choice(["F", "M"], PEOPLE).tolist(),
            "imd_decile": rng.integers(1, 11, PEOPLE).tolist(),
            "risk_score": scores.tolist(),
            "risk_tier": np.where(scores > 0.5, "high", np.where(scores > 0.25, "moderate", "low")).tolist(),
        }
    )


def _big(tmp_path: Path, register_yaml: str = REGISTER_YAML) -> tuple[TinyHome, pl.DataFrame]:
    tiny = make_home(tmp_path, register_yaml)
    people = _population()
    people = people.with_columns(person_token=Tokeniser(tiny.keys.token_key()).tokenise(people["nhs_number"]))
    tiny.home.warehouse.unlink()
    with duckdb.connect(str(tiny.home.warehouse)) as con:
        con.register("people", people.to_arrow())
        con.sql("CREATE TABLE person AS SELECT person_token, birth_year_month, sex, imd_decile FROM people")
        con.sql("CREATE TABLE risk_score AS SELECT person_token, risk_score, risk_tier FROM people")
        con.execute(
            "CREATE TABLE cohort_member AS SELECT ? AS cohort_id, person_token, 'r' AS reason, "
            "?::TIMESTAMP AS built_at FROM people",
            [COHORT, BUILT_AT],
        )
    return tiny, people


@pytest.fixture
def big(tmp_path: Path) -> tuple[TinyHome, pl.DataFrame]:
    """The fixture installation with its warehouse replaced by 240 cohort members."""
    return _big(tmp_path)


def _extract(tiny: TinyHome, domain: str, **kw: object) -> ExtractOutcome:
    return extract(home=tiny.home, landing=tiny.landing, purpose="research-extract", user="analyst-a",
                   domain=domain, cohort=COHORT, keys=tiny.keys, now=NOW, **kw)  # type: ignore[arg-type]  # fmt: skip


def _classes(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.group_by(columns).len()


def test_an_extract_reaches_k_5_with_risk_scores_only_in_bands(big: tuple[TinyHome, pl.DataFrame]) -> None:
    tiny, people = big
    outcome = _extract(tiny, "research-a")
    frame = pl.read_csv(outcome.path, infer_schema=False)
    assert frame.height == outcome.rows == PEOPLE
    assert frame.columns == ["domain_token", *QUASI_IDENTIFIERS]
    assert int(_classes(frame, list(QUASI_IDENTIFIERS))["len"].min()) == outcome.k >= 5  # type: ignore[arg-type]
    # 240 near-unique people in 3 tiers: every coding that keeps sex or IMD leaves a class under 5
    assert outcome.level == "age_and_tier"
    assert set(frame["age_band"]) == {"0-64", "65+"}
    assert set(frame["sex"]) == set(frame["imd"]) == set(frame["risk_band"]) == {"*"}
    assert set(frame["risk_tier"]) == {"low", "moderate", "high"}
    text = outcome.path.read_text()
    assert not any(f"{s:.4f}" in text or str(s) in text for s in people["risk_score"].to_list() if s > 0)


def test_a_larger_k_generalises_further(big: tuple[TinyHome, pl.DataFrame]) -> None:
    tiny, _ = big
    outcome = _extract(tiny, "research-a", min_k=15)  # age and tier leave a class of 6; the tiers 18, 94, 128
    assert (outcome.level, outcome.k) == ("tier", 18)


def test_two_recipients_extracts_join_on_no_column_set(big: tuple[TinyHome, pl.DataFrame]) -> None:
    """The attacker joins recipient A's file to recipient B's on every non-empty subset of the shared
    columns: no row of A ever narrows to fewer than 5 rows of B, and the tokens share nothing."""
    tiny, _ = big
    a = pl.read_csv(_extract(tiny, "research-a").path, infer_schema=False)
    b = pl.read_csv(_extract(tiny, "research-b").path, infer_schema=False)
    assert not set(a["domain_token"]) & set(b["domain_token"])
    for size in range(1, len(QUASI_IDENTIFIERS) + 1):
        for columns in map(list, combinations(QUASI_IDENTIFIERS, size)):
            matches = a.join(_classes(b, columns), on=columns, how="left")["len"]
            assert matches.null_count() == 0 and int(matches.min()) >= 5, columns  # type: ignore[arg-type]
    # and row order carries nothing across: the files are in their own token order
    assert a["domain_token"].to_list() == sorted(a["domain_token"].to_list())


def test_an_extract_joins_back_to_no_fewer_than_5_warehouse_people(
    big: tuple[TinyHome, pl.DataFrame],
) -> None:
    """The attacker has the warehouse and knows the coding: generalising it the same way, every
    extract row still matches at least 5 warehouse people on every column set."""
    tiny, people = big
    outcome = _extract(tiny, "research-a")
    extract_rows = pl.read_csv(outcome.path, infer_schema=False)
    level = next(lv for lv in LADDER if lv.name == outcome.level)
    from pseudonymisation.release.generalise import _apply

    warehouse = _apply(
        people.with_columns(
            (NOW.year - pl.col("birth_year_month").str.slice(0, 4).cast(pl.Int32)).alias("_age")
        ),
        level,
    )
    for size in range(1, len(QUASI_IDENTIFIERS) + 1):
        for columns in map(list, combinations(QUASI_IDENTIFIERS, size)):
            matches = extract_rows.join(_classes(warehouse, columns), on=columns, how="left")["len"]
            assert int(matches.min()) >= 5, columns  # type: ignore[arg-type]


def test_each_purpose_gets_its_own_tokens(big: tuple[TinyHome, pl.DataFrame]) -> None:
    tiny, people = big
    one = domain_tokens(people["person_token"], tiny.keys, "research-a", "research-extract")
    other = domain_tokens(people["person_token"], tiny.keys, "research-a", "another-purpose")
    assert one.n_unique() == other.n_unique() == PEOPLE
    assert not set(one) & set(other)


def test_an_extract_that_cannot_reach_k_is_refused_audited_and_writes_nothing(
    big: tuple[TinyHome, pl.DataFrame],
) -> None:
    tiny, _ = big
    with pytest.raises(ExtractError) as caught:
        _extract(tiny, "research-a", min_k=19)  # 240 people, but the smallest risk tier has 18
    assert str(caught.value) == (
        "k >= 19 cannot be reached with a useful coding: at the coarsest allowed level (tier) the smallest "
        "class has 18 of 240 people after opt-outs"
    )
    assert caught.value.reason == "k_anonymity_unreachable"
    entry = json.loads(tiny.home.audit_log.read_text().splitlines()[-1])
    assert (entry["event"], entry["outcome"], entry["reason"]) == (
        "extract",
        "denied",
        "k_anonymity_unreachable",
    )
    assert not (tiny.home.root / "extracts" / "research-a").exists()


def test_a_purpose_can_stop_the_ladder_earlier(tmp_path: Path) -> None:
    """The research purpose accepts nothing coarser than `broad`: k = 5 (reached only at age_and_tier for
    these 240 people) is refused there, naming that level."""
    yaml = REGISTER_YAML.replace(
        "max_cohort_age_days: 35\n", "max_cohort_age_days: 35\n    extract_coarsest_level: broad\n"
    )
    tiny, _ = _big(tmp_path, yaml)
    with pytest.raises(ExtractError) as caught:
        _extract(tiny, "research-a")
    assert str(caught.value) == (
        "k >= 5 cannot be reached with a useful coding: at the coarsest allowed level (broad) the smallest "
        "class has 2 of 240 people after opt-outs"
    )
    assert caught.value.reason == "k_anonymity_unreachable"
    assert not (tiny.home.root / "extracts" / "research-a").exists()


def test_k_below_5_is_not_allowed(big: tuple[TinyHome, pl.DataFrame]) -> None:
    tiny, _ = big
    with pytest.raises(ValueError, match="min_k must be at least 5"):
        _extract(tiny, "research-a", min_k=4)


def test_the_first_level_that_reaches_k_is_used() -> None:
    """Ten people, alike but for their risk score: the fine coding (scores in 0.05 bands) splits them
    4 + 6, the coarse one (0.1 bands) keeps them together as one class of 10."""
    frame = pl.DataFrame(
        {
            "person_token": [f"P1-{i}" for i in range(10)],
            "birth_year_month": ["1950-03"] * 10,
            "sex": ["F"] * 10,
            "imd_decile": [3] * 10,
            "risk_tier": ["high"] * 10,
            "risk_score": [0.51] * 4 + [0.56] * 6,
        }
    )
    coded, level = generalise(frame, k=5, now=NOW)
    assert level.name == "coarse"
    assert coded.drop("person_token").unique().rows() == [("60-79", "F", "3-4", "high", "0.5-0.6")]
    with pytest.raises(KNotReached) as caught:
        generalise(frame, k=11, now=NOW)
    assert (caught.value.level.name, caught.value.smallest) == ("tier", 10)


def test_the_ladder_ends_at_the_last_rung_that_carries_information() -> None:
    """Six people in two tiers of 3: every rung down to the tier alone leaves a class of 3 < 5, and
    there is no rung below it (a file of bare tokens would reach any k and say nothing), so k = 5 is
    refused, naming the rung and its smallest class; a purpose that stops at `broad` is refused there."""
    assert [lv.name for lv in LADDER] == ["fine", "coarse", "broad", "age_and_tier", "tier"]
    frame = pl.DataFrame(
        {
            "person_token": [f"P1-{i}" for i in range(6)],
            "birth_year_month": ["1950-03", "1951-07", "1980-01", "1990-12", "2001-05", "1944-09"],
            "sex": ["F", "M", "F", "M", "F", "M"],
            "imd_decile": [1, 2, 3, 8, 9, 10],
            "risk_tier": ["high", "high", "high", "low", "low", "low"],
            "risk_score": [0.61, 0.72, 0.55, 0.12, 0.08, 0.2],
        }
    )
    with pytest.raises(KNotReached) as caught:
        generalise(frame, k=5, now=NOW)
    assert (caught.value.level.name, caught.value.smallest, str(caught.value)) == (
        "tier", 3, "k >= 5 not reached at level tier (smallest class 3)"
    )  # fmt: skip
    coded, level = generalise(frame, k=3, now=NOW)
    assert level.name == "tier"
    assert sorted(coded.drop("person_token").unique().rows()) == [
        ("*", "*", "*", "high", "*"), ("*", "*", "*", "low", "*"),
    ]  # fmt: skip
    with pytest.raises(KNotReached) as stopped:
        generalise(frame, k=3, now=NOW, coarsest="broad")
    assert (stopped.value.level.name, stopped.value.smallest) == ("broad", 1)
    with pytest.raises(KNotReached) as empty:
        generalise(frame.clear(), k=5, now=NOW)
    assert empty.value.smallest == 0
    with pytest.raises(ValueError, match="unknown generalisation level 'token_only'"):
        generalise(frame, k=5, now=NOW, coarsest="token_only")  # type: ignore[arg-type]
