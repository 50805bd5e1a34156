"""Person tokens and pseudo-IDs: deterministic, domain- and version-separated, documented format."""

import hashlib
import hmac
import pickle
import re

import polars as pl
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pseudonymisation import (
    PSEUDO_ID_PATTERN,
    TOKEN_PATTERN,
    Key,
    Tokeniser,
    derive_domain_key,
    pseudo_id,
    tokenise,
)

# Synthetic NHS numbers from the reserved 999 range, all passing the modulus 11 check.
NHS = ["9990000018", "9990000026", "9990000034", "9990000042"]
MASTER = hashlib.sha256(b"phm-test-token-key").digest()


def token_key(version: int = 1, master: bytes = MASTER) -> Key:
    return Key("token", version, master)


def test_known_answer_is_stable_across_releases() -> None:
    # Tokens persist in the warehouse across refreshes: this value must never change for this key.
    assert tokenise(pl.Series([NHS[0]]), token_key()).to_list() == ["P1-869f7c6eebcd9e767b4898d3403e369f"]
    assert pseudo_id("asc:E08000025", pl.Series(["LA-0001"]), token_key()).to_list() == [
        "U1-8c08cd3ad23aba2d429de8a1eed78dbc"
    ]


def test_token_is_truncated_hmac_of_hkdf_domain_key() -> None:
    domain_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"phm-token|warehouse|v1").derive(
        MASTER
    )
    assert derive_domain_key(MASTER, "warehouse", 1) == domain_key
    expected = [f"P1-{hmac.digest(domain_key, n.encode(), 'sha256')[:16].hex()}" for n in NHS]
    assert tokenise(pl.Series(NHS), token_key()).to_list() == expected


def test_same_key_and_input_give_same_tokens() -> None:
    first = Tokeniser(token_key()).tokenise(pl.Series(NHS))
    second = Tokeniser(token_key()).tokenise(pl.Series(list(reversed(NHS))))
    assert first.to_list() == list(reversed(second.to_list()))
    assert first.n_unique() == len(NHS)


def test_different_domains_give_different_tokens() -> None:
    warehouse = tokenise(pl.Series(NHS), token_key(), domain="warehouse")
    extract = tokenise(pl.Series(NHS), token_key(), domain="extract-2026")
    assert set(warehouse.to_list()).isdisjoint(extract.to_list())
    assert derive_domain_key(MASTER, "warehouse", 1) != derive_domain_key(MASTER, "extract-2026", 1)


def test_different_versions_give_different_tokens_and_prefixes() -> None:
    v1 = tokenise(pl.Series(NHS), token_key(1))
    v2 = tokenise(pl.Series(NHS), token_key(2))
    assert [t[:3] for t in v1] == ["P1-"] * 4
    assert [t[:3] for t in v2] == ["P2-"] * 4
    assert {t[3:] for t in v1}.isdisjoint(t[3:] for t in v2)


def test_token_format() -> None:
    tokens = tokenise(pl.Series(NHS), token_key(12))
    assert all(re.fullmatch(TOKEN_PATTERN, t) for t in tokens)
    assert tokens[0].startswith("P12-")
    assert len(tokens[0]) == len("P12-") + 32


def test_nulls_stay_null_and_duplicates_share_a_token() -> None:
    series = pl.Series("nhs_number", [NHS[0], None, NHS[1], NHS[0], None])
    tokens = tokenise(series, token_key())
    assert tokens.name == "nhs_number"
    assert tokens.dtype == pl.String
    assert tokens.len() == 5
    assert tokens.is_null().to_list() == [False, True, False, False, True]
    assert tokens[0] == tokens[3]
    assert tokens[0] != tokens[2]


def test_all_null_and_empty_series() -> None:
    assert tokenise(pl.Series([None, None], dtype=pl.String), token_key()).to_list() == [None, None]
    assert tokenise(pl.Series([], dtype=pl.String), token_key()).to_list() == []


@pytest.mark.parametrize("bad", ["999 000 0018", "999000001", "99900000180", "999000001X", ""])
def test_unnormalised_input_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^1 value\(s\) are not normalised") as info:
        tokenise(pl.Series([NHS[0], bad]), token_key())
    if bad:
        assert bad not in str(info.value)


def test_non_string_input_refused() -> None:
    with pytest.raises(TypeError, match="String"):
        tokenise(pl.Series([9990000018]), token_key())


def test_vault_key_cannot_tokenise() -> None:
    with pytest.raises(TypeError, match="token-purpose Key"):
        Tokeniser(Key("vault", 1, MASTER))


@pytest.mark.parametrize("domain", ["", "Warehouse", "a|b", "ware house", "x" * 65])
def test_domain_allow_list(domain: str) -> None:
    with pytest.raises(ValueError, match="domain must match"):
        derive_domain_key(MASTER, domain, 1)


def test_pseudo_id_is_stable_and_namespaced() -> None:
    ids = pl.Series(["LA-0001", "LA-0002", None, "LA-0001"])
    first = Tokeniser(token_key()).pseudo_id("asc:E08000025", ids)
    again = Tokeniser(token_key()).pseudo_id("asc:E08000025", ids)
    other_ns = Tokeniser(token_key()).pseudo_id("asc:E08000026", ids)
    assert first.to_list() == again.to_list()
    assert first.is_null().to_list() == [False, False, True, False]
    assert first[0] == first[3] != first[1]
    assert all(re.fullmatch(PSEUDO_ID_PATTERN, p) for p in first.drop_nulls())
    assert set(first.drop_nulls()).isdisjoint(other_ns.drop_nulls())


def test_pseudo_id_is_hmac_over_namespace_and_id_with_its_own_key() -> None:
    pseudo_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"phm-pseudo|warehouse|v1"
    ).derive(MASTER)
    expected = "U1-" + hmac.digest(pseudo_key, b"ns\x1f42", "sha256")[:16].hex()
    assert pseudo_id("ns", pl.Series([42]), token_key()).to_list() == [expected]
    # Not the same hash space as person tokens, even for an NHS-number-shaped local id.
    assert (
        pseudo_id("ns", pl.Series([NHS[0]]), token_key())[0][3:]
        != tokenise(pl.Series([NHS[0]]), token_key())[0][3:]
    )


@pytest.mark.parametrize("namespace", ["", "a\x1fb", "has space", ":leading"])
def test_pseudo_id_namespace_allow_list(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace must match"):
        pseudo_id(namespace, pl.Series(["1"]), token_key())


def test_tokeniser_hides_key_material() -> None:
    tokeniser = Tokeniser(token_key())
    assert repr(tokeniser) == "Tokeniser(domain='warehouse', version=1)"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(tokeniser)
