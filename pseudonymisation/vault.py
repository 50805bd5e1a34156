"""The vault: token -> NHS number, encrypted, kept apart from the warehouse.

Each load writes new entries (``load/token_map.py`` ``build_token_map``, encrypt only); entries are read
back (decrypted) only by the governed release step (re-identification for an approved purpose,
``release/release.py``) and by key rotation (``rotate.py``). Each entry is AES-256-GCM under the vault
key (never the token key) with a fresh random 96-bit nonce, and the associated data binds the
ciphertext to its token and key version: a ciphertext copied onto another token, or a flipped byte
anywhere, fails authentication and raises ``VaultTamperError``.

Storage is a DuckDB file ``vault.duckdb`` in its own folder (0700; file 0600), table
``vault(token PK, key_version, nonce, ciphertext)``. DuckDB's own encryption needs an extension that is
not available offline, hence application-level encryption with ``cryptography``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import duckdb
import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import Refused

from .keys import Key, KeyUnavailableError
from .tokens import TOKEN_PATTERN

__all__ = ["VAULT_FILENAME", "Vault", "VaultError", "VaultTamperError"]

VAULT_FILENAME = "vault.duckdb"
_NONCE_BYTES = 12
_NHS_FORMAT = r"^[0-9]{10}$"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vault (
    token       VARCHAR PRIMARY KEY,
    key_version INTEGER NOT NULL,
    nonce       BLOB    NOT NULL,
    ciphertext  BLOB    NOT NULL
)
"""
_STAGE = "_phm_vault_stage"  # name of the frame registered for one bulk statement, then unregistered


class VaultError(Refused):
    """A vault operation was refused. Messages may name tokens, never NHS numbers."""


class VaultTamperError(VaultError):
    """An entry failed authentication: altered, moved between tokens, or encrypted under another key."""

    def __init__(self, token: str) -> None:
        super().__init__(f"vault entry for token {token} failed authentication (tampered or wrong key)")
        self.token = token


def _aad(token: str, key_version: int) -> bytes:
    return f"phm-vault|v{key_version}|{token}".encode()


def _resolve_path(path: str | os.PathLike[str]) -> Path:
    """Accept the vault folder or the ``.duckdb`` file inside it."""
    p = Path(path)
    return p if p.suffix == ".duckdb" else p / VAULT_FILENAME


def _restrict(path: Path) -> None:
    if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
        os.chmod(path, 0o600)


class Vault:
    """Encrypted token -> NHS number store. Use ``Vault.open(path, vault_key)``; close or use ``with``."""

    def __init__(self, file: Path, con: duckdb.DuckDBPyConnection, keys: dict[int, AESGCM], current: int):
        self.path = file
        self._con = con
        self._ciphers = keys
        self._current = current

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        key: Key,
        *,
        previous_keys: Iterable[Key] = (),
        read_only: bool = False,
    ) -> Vault:
        """Open (creating if needed, unless ``read_only``) the vault at ``path`` (folder or ``.duckdb``).

        ``key`` encrypts new entries; ``previous_keys`` only decrypt entries written before a rotation.
        """
        all_keys = [key, *previous_keys]
        for k in all_keys:
            if not isinstance(k, Key) or k.purpose != "vault":
                raise TypeError("Vault.open needs vault-purpose Keys (KeyProvider.vault_key())")
        file = _resolve_path(path)
        if read_only:
            if not file.exists():
                raise VaultError(f"no vault at {file}")
        else:
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if stat.S_IMODE(file.parent.stat().st_mode) != 0o700:
                os.chmod(file.parent, 0o700)  # the folder, not the file mode, guards DuckDB's WAL
        con = duckdb.connect(str(file), read_only=read_only)
        try:
            con.sql("SET python_enable_replacements=false")
            if not read_only:
                con.sql(_SCHEMA)
                con.sql("CHECKPOINT")
                _restrict(file)
        except BaseException:
            con.close()
            raise
        ciphers = {k.version: AESGCM(k.material) for k in all_keys}
        return cls(file, con, ciphers, key.version)

    def __repr__(self) -> str:
        return f"Vault(path={str(self.path)!r}, key_version={self._current})"

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and re-assert 0600 on the file."""
        self._con.close()
        _restrict(self.path)

    def count(self) -> int:
        """Number of entries."""
        rows = self._con.sql("SELECT count(*) FROM vault").fetchall()
        return int(rows[0][0])

    def put_many(self, tokens: pl.Series, nhs_numbers: pl.Series) -> int:
        """Store token -> NHS number pairs; tokens already in the vault are left as they are.

        Idempotent: re-running a load inserts nothing new. Pairs with a null token are skipped; a token
        with a null or conflicting NHS number is refused. Returns the number of entries added. Only new
        tokens are encrypted, and all rows go in with one INSERT from a registered Arrow table.
        """
        if tokens.len() != nhs_numbers.len():
            raise ValueError("tokens and nhs_numbers must have the same length")
        pairs = (
            pl.DataFrame({"token": tokens.cast(pl.String), "nhs_number": nhs_numbers.cast(pl.String)})
            .filter(pl.col("token").is_not_null())
            .unique(maintain_order=True)
        )
        if pairs.get_column("nhs_number").null_count():
            raise ValueError("some tokens have no NHS number; a vault entry needs both")
        bad_tokens = int((~pairs.get_column("token").str.contains(TOKEN_PATTERN)).sum())
        if bad_tokens:
            raise ValueError(f"{bad_tokens} token(s) are not person tokens (P<version>-<32 hex>)")
        bad_numbers = int((~pairs.get_column("nhs_number").str.contains(_NHS_FORMAT)).sum())
        if bad_numbers:
            raise ValueError(f"{bad_numbers} NHS number(s) are not normalised 10-digit strings")
        if pairs.get_column("token").n_unique() != pairs.height:
            raise ValueError("some tokens map to more than one NHS number; refusing to store either")
        new = self._new_tokens(pairs)
        if new.height == 0:
            return 0
        staged = self._encrypt(new.get_column("token"), new.get_column("nhs_number"))
        self._con.register(_STAGE, staged.to_arrow())
        try:
            self._con.sql(
                "INSERT INTO vault SELECT token, key_version, nonce, ciphertext FROM _phm_vault_stage ORDER BY token "
                "ON CONFLICT DO NOTHING"
            )
        finally:
            self._con.unregister(_STAGE)
        _restrict(self.path)
        return new.height

    def _new_tokens(self, pairs: pl.DataFrame) -> pl.DataFrame:
        self._con.register(_STAGE, pairs.select("token").to_arrow())
        try:
            known = self._con.sql(
                "SELECT s.token FROM _phm_vault_stage s SEMI JOIN vault v ON v.token = s.token"
            ).pl()
        finally:
            self._con.unregister(_STAGE)
        return pairs.join(known, on="token", how="anti", maintain_order="left")

    def _encrypt(self, tokens: pl.Series, nhs_numbers: pl.Series) -> pl.DataFrame:
        """One AES-256-GCM entry per token. AES-GCM with a fresh nonce per entry has no batch form in
        `cryptography`, so the per-entry call stays; what feeds it is built vectorised (associated data
        by one string concatenation, messages as bytes) and the calls run through `map`."""
        version = self._current
        # One CSPRNG call for all nonces: each 12-byte slice is still independent and uniformly random.
        pool = os.urandom(_NONCE_BYTES * tokens.len())
        nonces = [pool[i : i + _NONCE_BYTES] for i in range(0, len(pool), _NONCE_BYTES)]
        messages = nhs_numbers.cast(pl.Binary).to_list()
        # The same bytes as _aad(token, version), by one concatenation over the column.
        aads = (_aad("", version).decode() + tokens.cast(pl.String)).cast(pl.Binary).to_list()
        ciphertexts = list(map(self._ciphers[version].encrypt, nonces, messages, aads))
        return pl.DataFrame(
            {
                "token": tokens.cast(pl.String),
                "key_version": pl.Series([version] * tokens.len(), dtype=pl.Int32),
                "nonce": pl.Series(nonces, dtype=pl.Binary),
                "ciphertext": pl.Series(ciphertexts, dtype=pl.Binary),
            }
        )

    def reidentify(self, tokens: Sequence[str] | pl.Series) -> dict[str, str]:
        """Decrypt the NHS numbers for ``tokens``. Tokens not in the vault are absent from the result.

        Raises ``VaultTamperError`` naming the first token whose entry fails authentication.
        """
        wanted = pl.DataFrame({"token": pl.Series(list(tokens), dtype=pl.String)}).drop_nulls().unique()
        self._con.register(_STAGE, wanted.to_arrow())
        try:
            rows = self._con.sql(
                "SELECT v.token, v.key_version, v.nonce, v.ciphertext FROM vault v SEMI JOIN _phm_vault_stage s "
                "ON s.token = v.token ORDER BY v.token"
            ).fetchall()
        finally:
            self._con.unregister(_STAGE)
        out: dict[str, str] = {}
        for token, key_version, nonce, ciphertext in rows:
            cipher = self._ciphers.get(key_version)
            if cipher is None:
                raise KeyUnavailableError(
                    f"vault entry for token {token} uses vault key v{key_version}; pass it in previous_keys"
                )
            try:
                plain = cipher.decrypt(bytes(nonce), bytes(ciphertext), _aad(token, key_version))
            except InvalidTag:
                raise VaultTamperError(token) from None
            out[token] = plain.decode("ascii")
        return out
