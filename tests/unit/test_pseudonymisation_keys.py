"""Key provider: sources, dev-mode file safety, refusals, laziness, and no key material in any text."""

import base64
import hashlib
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pseudonymisation import Key, KeyProvider, KeyUnavailableError, WeakKeyError
from pseudonymisation.keys import KeyProviderError, _DirectorySource

TOKEN = hashlib.sha256(b"phm-test-token-key").digest()
VAULT = hashlib.sha256(b"phm-test-vault-key").digest()


def b64(material: bytes) -> str:
    return base64.b64encode(material).decode()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def make_key_dir(directory: Path, versions: dict[int, tuple[bytes, bytes]], current: int) -> Path:
    directory.mkdir(mode=0o700)
    for version, (token, vault) in versions.items():
        write_private(directory / f"token_key_v{version}.key", b64(token) + "\n")
        write_private(
            directory / f"vault_key_v{version}.key", vault.hex()
        )  # hex here, base64 above: both accepted
    write_private(directory / "current_version", f"{current}\n")
    return directory


def key_texts(material: bytes) -> list[str]:
    """Every textual form of a key that must never leak."""
    return [
        b64(material),
        base64.urlsafe_b64encode(material).decode(),
        material.hex(),
        material.hex().upper(),
        repr(material),
    ]


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # Dev keys must be private even when the process umask would allow group/other access.
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


# --- environment source ---------------------------------------------------------------------------


def test_env_base64_and_hex_both_accepted() -> None:
    provider = KeyProvider.from_env(
        {"PHM_TOKEN_KEY": b64(TOKEN), "PHM_VAULT_KEY": VAULT.hex(), "PHM_KEY_VERSION": "3"}
    )
    assert provider.current_version() == 3
    assert provider.token_key() == Key("token", 3, TOKEN)
    assert provider.vault_key().material == VAULT
    assert provider.vault_key().version == 3


def test_env_urlsafe_base64_without_padding() -> None:
    text = base64.urlsafe_b64encode(TOKEN).decode().rstrip("=")
    assert KeyProvider.from_env({"PHM_TOKEN_KEY": text}).token_key().material == TOKEN


def test_env_missing_token_key_is_refused_with_guidance() -> None:
    with pytest.raises(KeyUnavailableError) as info:
        KeyProvider.from_env({}).token_key()
    assert str(info.value) == (
        "token key unavailable: set PHM_TOKEN_KEY (32 random bytes, base64 or hex) or use a key directory"
    )
    assert isinstance(info.value, KeyError)


def test_env_token_key_does_not_need_vault_key() -> None:
    provider = KeyProvider.from_env({"PHM_TOKEN_KEY": b64(TOKEN)})
    assert provider.token_key().material == TOKEN
    with pytest.raises(KeyUnavailableError, match="PHM_VAULT_KEY"):
        provider.vault_key()


def test_env_holds_one_version_only() -> None:
    provider = KeyProvider.from_env({"PHM_TOKEN_KEY": b64(TOKEN)})
    with pytest.raises(KeyUnavailableError, match="v2 requested"):
        provider.token_key(version=2)


def test_env_bad_encoding_is_refused_without_echo() -> None:
    secret = "not*base64*and*not*hex*but*secret"
    with pytest.raises(KeyUnavailableError) as info:
        KeyProvider.from_env({"PHM_TOKEN_KEY": secret}).token_key()
    assert str(info.value) == "environment variable PHM_TOKEN_KEY is not valid base64 or 64-digit hex"


def test_env_bad_version_refused() -> None:
    with pytest.raises(KeyUnavailableError, match="PHM_KEY_VERSION must be a positive integer"):
        KeyProvider.from_env({"PHM_TOKEN_KEY": b64(TOKEN), "PHM_KEY_VERSION": "0"}).token_key()


# --- weak keys --------------------------------------------------------------------------------------

WEAK = {
    "short": (os.urandom(16), "must be exactly 32 bytes, got 16"),
    "long": (os.urandom(33), "must be exactly 32 bytes, got 33"),
    "all-same": (b"\x41" * 32, "too few distinct byte values"),
    "two-values": (b"\x00\xff" * 16, "too few distinct byte values"),
    "counting": (bytes(range(32)), "arithmetic sequence"),
    "ascii-text": (b"passwordpasswordpasswordpassword", "too few distinct byte values"),
}


@pytest.mark.parametrize("name", sorted(WEAK))
def test_weak_keys_refused_without_echo(name: str) -> None:
    material, reason = WEAK[name]
    with pytest.raises(WeakKeyError) as info:
        KeyProvider.from_env({"PHM_TOKEN_KEY": b64(material)}).token_key()
    message = str(info.value)
    assert message.startswith("environment variable PHM_TOKEN_KEY: key ")
    assert reason in message
    for text in key_texts(material):
        assert text not in message
        assert text not in repr(info.value)


def test_weak_key_refused_by_key_constructor() -> None:
    with pytest.raises(WeakKeyError, match="too few distinct"):
        Key("token", 1, b"\x00" * 32)


def test_identical_token_and_vault_keys_refused() -> None:
    provider = KeyProvider.from_env({"PHM_TOKEN_KEY": b64(TOKEN), "PHM_VAULT_KEY": TOKEN.hex()})
    provider.token_key()
    with pytest.raises(WeakKeyError, match="the token and vault keys are identical"):
        provider.vault_key()


# --- key material never in text --------------------------------------------------------------------


def test_key_repr_and_str_hide_bytes() -> None:
    key = Key("vault", 2, VAULT)
    assert repr(key) == "Key(purpose='vault', version=2, material=<hidden>)"
    assert str(key) == repr(key)
    for text in key_texts(VAULT):
        assert text not in repr(key)
    assert repr(KeyProvider.from_env({"PHM_TOKEN_KEY": b64(TOKEN)})) == "KeyProvider(mode='env')"


def test_key_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Key("token", 1, TOKEN))


def test_errors_are_key_errors_with_plain_messages() -> None:
    err = KeyUnavailableError("no key")
    assert isinstance(err, KeyProviderError)
    assert isinstance(err, KeyError)
    assert str(err) == "no key"  # not KeyError's quoted form


# --- directory source -------------------------------------------------------------------------------


def test_directory_versions_and_current(tmp_path: Path) -> None:
    other_token = hashlib.sha256(b"token-v2").digest()
    other_vault = hashlib.sha256(b"vault-v2").digest()
    keys = make_key_dir(tmp_path / "keys", {1: (TOKEN, VAULT), 2: (other_token, other_vault)}, current=2)
    provider = KeyProvider.from_directory(keys)
    assert provider.current_version() == 2
    assert provider.versions("token") == [1, 2]
    assert provider.token_key() == Key("token", 2, other_token)
    assert provider.token_key(version=1) == Key("token", 1, TOKEN)
    assert provider.vault_key(version=1).material == VAULT


def test_directory_token_key_never_reads_vault_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = make_key_dir(tmp_path / "keys", {1: (TOKEN, VAULT)}, current=1)
    read: list[str] = []
    original = _DirectorySource._read_text

    def spy(self: _DirectorySource, path: Path, what: str) -> str:
        read.append(path.name)
        return original(self, path, what)

    monkeypatch.setattr(_DirectorySource, "_read_text", spy)
    provider = KeyProvider.from_directory(keys)
    provider.token_key()
    assert read == ["current_version", "token_key_v1.key"]
    provider.vault_key()
    assert read[-1] == "vault_key_v1.key"


def test_directory_without_vault_file_still_serves_token_key(tmp_path: Path) -> None:
    keys = make_key_dir(tmp_path / "keys", {1: (TOKEN, VAULT)}, current=1)
    (keys / "vault_key_v1.key").unlink()
    provider = KeyProvider.from_directory(keys)
    assert provider.token_key().material == TOKEN
    with pytest.raises(KeyUnavailableError, match="vault key file not found"):
        provider.vault_key()


def test_directory_missing_keys_refused_outside_dev(tmp_path: Path) -> None:
    empty = tmp_path / "keys"
    empty.mkdir()
    with pytest.raises(KeyUnavailableError) as info:
        KeyProvider.from_directory(empty).token_key()
    assert str(info.value) == f"current key version file not found: {empty / 'current_version'}"
    write_private(empty / "current_version", "1")
    with pytest.raises(KeyUnavailableError) as info:
        KeyProvider.from_directory(empty).token_key()
    assert str(info.value) == f"token key file not found: {empty / 'token_key_v1.key'}"
    assert list(empty.iterdir()) == [empty / "current_version"]  # nothing generated


def test_directory_refuses_group_readable_key_file(tmp_path: Path) -> None:
    keys = make_key_dir(tmp_path / "keys", {1: (TOKEN, VAULT)}, current=1)
    (keys / "token_key_v1.key").chmod(0o640)
    with pytest.raises(KeyUnavailableError, match="accessible by group/others"):
        KeyProvider.from_directory(keys).token_key()
    assert KeyProvider.from_directory(keys, strict_permissions=False).token_key().material == TOKEN


def test_directory_weak_key_file_names_file_not_bytes(tmp_path: Path) -> None:
    keys = make_key_dir(tmp_path / "keys", {1: (TOKEN, VAULT)}, current=1)
    write_private(keys / "token_key_v1.key", b64(b"\x07" * 32))
    with pytest.raises(WeakKeyError) as info:
        KeyProvider.from_directory(keys).token_key()
    assert str(info.value) == (
        f"key file {keys / 'token_key_v1.key'}: key has too few distinct byte values to be random"
    )


# --- dev mode ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_umask")
def test_dev_generates_private_keys_on_first_use_and_reuses_them(tmp_path: Path) -> None:
    home = tmp_path / "home" / "keys"
    provider = KeyProvider.dev(home)
    assert not home.exists()  # nothing happens until a key is asked for
    token = provider.token_key()
    assert mode_of(home) == 0o700
    assert sorted(p.name for p in home.iterdir()) == ["current_version", "token_key_v1.key"]
    assert mode_of(home / "token_key_v1.key") == 0o600
    assert mode_of(home / "current_version") == 0o600
    vault = provider.vault_key()
    assert mode_of(home / "vault_key_v1.key") == 0o600
    assert token.material != vault.material
    assert token.version == vault.version == 1

    again = KeyProvider.dev(home)
    assert again.token_key() == token
    assert again.vault_key() == vault
    # Dev files are ordinary key files: a directory provider reads the same keys.
    assert KeyProvider.from_directory(home).token_key() == token


def test_dev_tightens_existing_folder(tmp_path: Path) -> None:
    home = tmp_path / "keys"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    KeyProvider.dev(home).token_key()
    assert mode_of(home) == 0o700
