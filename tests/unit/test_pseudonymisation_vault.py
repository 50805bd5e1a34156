"""The vault: encrypted round trip, idempotent bulk load, tamper detection, file safety, rotation."""

import hashlib
import stat
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pseudonymisation import Key, KeyUnavailableError, Vault, VaultError, VaultTamperError, tokenise

NHS = ["9990000018", "9990000026", "9990000034", "9990000042", "9990000050"]
TOKEN_KEY = Key("token", 1, hashlib.sha256(b"phm-test-token-key").digest())
VAULT_KEY = Key("vault", 1, hashlib.sha256(b"phm-test-vault-key").digest())
TOKENS = tokenise(pl.Series(NHS), TOKEN_KEY).to_list()


def filled_vault(directory: Path) -> Path:
    with Vault.open(directory, VAULT_KEY) as vault:
        assert vault.put_many(pl.Series(TOKENS), pl.Series(NHS)) == 5
    return directory / "vault.duckdb"


def rows(file: Path) -> dict[str, tuple[int, bytes, bytes]]:
    with duckdb.connect(str(file), read_only=True) as con:
        got = con.sql("SELECT token, key_version, nonce, ciphertext FROM vault").fetchall()
    return {t: (v, bytes(n), bytes(c)) for t, v, n, c in got}


def set_row(file: Path, token: str, nonce: bytes, ciphertext: bytes, key_version: int = 1) -> None:
    with duckdb.connect(str(file)) as con:
        con.execute(
            "UPDATE vault SET nonce = $nonce, ciphertext = $ct, key_version = $kv WHERE token = $token",
            {"nonce": nonce, "ct": ciphertext, "kv": key_version, "token": token},
        )


def test_round_trip(tmp_path: Path) -> None:
    filled_vault(tmp_path / "vault")
    with Vault.open(tmp_path / "vault", VAULT_KEY, read_only=True) as vault:
        assert vault.count() == 5
        assert vault.reidentify(TOKENS) == dict(zip(TOKENS, NHS, strict=True))
        assert vault.reidentify(pl.Series([TOKENS[2], None, "P1-" + "0" * 32])) == {TOKENS[2]: NHS[2]}
        assert vault.reidentify([]) == {}


def test_stores_only_ciphertext_with_fresh_nonces(tmp_path: Path) -> None:
    stored = rows(filled_vault(tmp_path / "vault"))
    assert set(stored) == set(TOKENS)
    assert {v for v, _, _ in stored.values()} == {1}
    assert {len(n) for _, n, _ in stored.values()} == {12}
    assert len({n for _, n, _ in stored.values()}) == 5
    assert {len(c) for _, _, c in stored.values()} == {10 + 16}  # 10 digits + GCM tag
    raw = (tmp_path / "vault" / "vault.duckdb").read_bytes()
    assert not any(n.encode() in raw for n in NHS)


def test_put_many_is_idempotent_and_skips_null_tokens(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    before = rows(file)
    with Vault.open(file, VAULT_KEY) as vault:
        tokens = pl.Series([*TOKENS, TOKENS[0], None])
        numbers = pl.Series([*NHS, NHS[0], None])
        assert vault.put_many(tokens, numbers) == 0
        assert vault.count() == 5
    assert rows(file) == before  # existing entries are not re-encrypted


def test_put_many_refusals_do_not_name_nhs_numbers(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "vault", VAULT_KEY) as vault:
        with pytest.raises(ValueError, match="same length"):
            vault.put_many(pl.Series(TOKENS), pl.Series(NHS[:2]))
        with pytest.raises(ValueError, match="more than one NHS number") as info:
            vault.put_many(pl.Series([TOKENS[0], TOKENS[0]]), pl.Series([NHS[0], NHS[1]]))
        assert NHS[0] not in str(info.value)
        with pytest.raises(ValueError, match="have no NHS number"):
            vault.put_many(pl.Series([TOKENS[0]]), pl.Series([None], dtype=pl.String))
        with pytest.raises(ValueError, match="^1 NHS number\\(s\\) are not normalised") as info:
            vault.put_many(pl.Series(TOKENS[:2]), pl.Series([NHS[0], "999 000 0026"]))
        assert "999 000 0026" not in str(info.value)
        with pytest.raises(ValueError, match="^1 token\\(s\\) are not person tokens"):
            vault.put_many(pl.Series(["U1-" + "a" * 32]), pl.Series([NHS[0]]))
        assert vault.count() == 0


def test_flipped_ciphertext_byte_is_detected(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    _, nonce, ciphertext = rows(file)[TOKENS[1]]
    set_row(file, TOKENS[1], nonce, bytes([ciphertext[0] ^ 0x01]) + ciphertext[1:])
    with Vault.open(file, VAULT_KEY) as vault:
        assert vault.reidentify([TOKENS[0]]) == {TOKENS[0]: NHS[0]}
        with pytest.raises(VaultTamperError) as info:
            vault.reidentify([TOKENS[1]])
    assert info.value.token == TOKENS[1]
    assert (
        str(info.value) == f"vault entry for token {TOKENS[1]} failed authentication (tampered or wrong key)"
    )
    assert NHS[1] not in str(info.value)


def test_flipped_nonce_byte_is_detected(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    _, nonce, ciphertext = rows(file)[TOKENS[1]]
    set_row(file, TOKENS[1], bytes([nonce[0] ^ 0x80]) + nonce[1:], ciphertext)
    with Vault.open(file, VAULT_KEY) as vault, pytest.raises(VaultTamperError):
        vault.reidentify([TOKENS[1]])


@pytest.mark.parametrize("with_nonce", [True, False])
def test_swapped_entries_are_detected(tmp_path: Path, with_nonce: bool) -> None:
    file = filled_vault(tmp_path / "vault")
    stored = rows(file)
    _, nonce_a, ct_a = stored[TOKENS[0]]
    _, nonce_b, ct_b = stored[TOKENS[3]]
    set_row(file, TOKENS[0], nonce_b if with_nonce else nonce_a, ct_b)
    set_row(file, TOKENS[3], nonce_a if with_nonce else nonce_b, ct_a)
    with Vault.open(file, VAULT_KEY) as vault:
        for token, nhs in [(TOKENS[0], NHS[3]), (TOKENS[3], NHS[0])]:
            with pytest.raises(VaultTamperError) as info:
                vault.reidentify([token])
            assert token in str(info.value)
            assert nhs not in str(info.value)


def test_changed_key_version_is_detected(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    _, nonce, ciphertext = rows(file)[TOKENS[0]]
    set_row(file, TOKENS[0], nonce, ciphertext, key_version=2)
    v2 = Key("vault", 2, hashlib.sha256(b"vault-v2").digest())
    with Vault.open(file, v2, previous_keys=[VAULT_KEY]) as vault, pytest.raises(VaultTamperError):
        vault.reidentify([TOKENS[0]])


def test_wrong_key_fails_authentication(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    other = Key("vault", 1, hashlib.sha256(b"some-other-vault-key").digest())
    with Vault.open(file, other) as vault, pytest.raises(VaultTamperError):
        vault.reidentify(TOKENS)


def test_rotation_reads_old_entries_and_writes_new_version(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    v2 = Key("vault", 2, hashlib.sha256(b"vault-v2").digest())
    extra_token = tokenise(pl.Series(["9990000069"]), TOKEN_KEY)
    with Vault.open(file, v2) as vault, pytest.raises(KeyUnavailableError, match="uses vault key v1"):
        vault.reidentify(TOKENS[:1])
    with Vault.open(file, v2, previous_keys=[VAULT_KEY]) as vault:
        assert vault.put_many(extra_token, pl.Series(["9990000069"])) == 1
        assert vault.reidentify([*TOKENS, extra_token[0]]) == {
            **dict(zip(TOKENS, NHS, strict=True)),
            extra_token[0]: "9990000069",
        }
    assert rows(file)[extra_token[0]][0] == 2


def test_file_and_folder_are_private(tmp_path: Path) -> None:
    file = filled_vault(tmp_path / "vault")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert file.name == "vault.duckdb"


def test_open_accepts_file_path_and_refuses_other_keys(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "v" / "vault.duckdb", VAULT_KEY) as vault:
        assert vault.count() == 0
        assert repr(vault) == f"Vault(path='{tmp_path / 'v' / 'vault.duckdb'}', key_version=1)"
    with pytest.raises(TypeError, match="vault-purpose Keys"):
        Vault.open(tmp_path / "v", TOKEN_KEY)
    with pytest.raises(VaultError, match="no vault at"):
        Vault.open(tmp_path / "missing", VAULT_KEY, read_only=True)


def test_replacement_scans_are_off(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "vault", VAULT_KEY) as vault:
        setting = vault._con.sql("SELECT current_setting('python_enable_replacements')").fetchall()
    assert setting == [(False,)]
