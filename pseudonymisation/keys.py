"""Key provider: where the token key and the vault key come from, and the checks they must pass.

Two independent 32-byte secrets, each with an integer version:

* the **token** master key, from which per-domain HMAC keys are derived (``tokens.py``). Pseudonymising
  records (``load/pseudonymise.py`` ``pseudonymise_source``) and making extracts need only this key;
* the **vault** key, which encrypts token -> NHS number entries (``vault.py``). Each load opens the vault
  with it to add entries (``load/token_map.py`` ``build_token_map``, encrypt only); entries are decrypted
  back to NHS numbers only by the governed release (``release/release.py``) and by key rotation
  (``rotate.py``). Code serving analysts never loads it;
* the **audit** key, which MACs the release audit log's chain (``release/audit.py``), so that a log
  rewritten by someone without this key fails verification. Held apart from the other two (its own file
  or variable, ``PHM_AUDIT_KEY``), one version, never rotated or retired with them;
* the **lineage** key, which makes the warehouse's row tokens and record-id tokens (``lineage.py``), so
  a warehouse row can be traced back to its landing file and line only by the identifiable zone. Held
  apart (``PHM_LINEAGE_KEY``), one version, not rotated with the token key (its tokens name rows, not
  people, so a token key rotation has nothing to re-derive there).

The two accessors are lazy and independent, so a process serving analysts can call ``token_key()`` without
the vault key ever being read from disk or the environment. Sources, in the order a deployment would
normally choose them:

* ``KeyProvider.from_env(os.environ)`` - ``PHM_TOKEN_KEY`` / ``PHM_VAULT_KEY`` (base64 or hex) and
  ``PHM_KEY_VERSION`` (default 1). One version only.
* ``KeyProvider.from_directory(path)`` - ``token_key_v{n}.key`` / ``vault_key_v{n}.key`` files (base64 or
  hex text) plus a ``current_version`` file. Several versions may sit side by side for rotation.
* ``KeyProvider.dev(path)`` - as ``from_directory`` but generates missing keys on first use (folder 0700,
  files 0600). For local runs on synthetic data only.

Key material never appears in a repr, a str, an exception message or a log line; errors name the source
(variable or file) and the rule that failed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

from core.errors import Refused
from core.files import private_dir, write_private

__all__ = [
    "AUDIT_KEY_VERSION",
    "KEY_BYTES",
    "Key",
    "KeyProvider",
    "KeyProviderError",
    "KeyUnavailableError",
    "Purpose",
    "WeakKeyError",
    "create_audit_key",
]

KEY_BYTES = 32
Purpose = Literal["token", "vault", "audit", "lineage"]

_ENV_NAMES: dict[Purpose, str] = {
    "token": "PHM_TOKEN_KEY",
    "vault": "PHM_VAULT_KEY",
    "audit": "PHM_AUDIT_KEY",
    "lineage": "PHM_LINEAGE_KEY",
}
#: Keys with one fixed version, outside the token/vault rotation.
_SINGLE_VERSION: frozenset[Purpose] = frozenset({"audit", "lineage"})
#: The audit key has one version: it is never rotated with the token and vault keys, because every
#: entry of the release audit log is chained under it (rotating it would mean re-keying the evidence).
AUDIT_KEY_VERSION = 1
_ENV_VERSION = "PHM_KEY_VERSION"
_CURRENT_VERSION_FILE = "current_version"
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_B64_RE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# 32 uniformly random bytes have ~30 distinct values; fewer than 16 means the key was not random.
_MIN_DISTINCT_BYTES = 16
_MAX_FILE_BYTES = 1024


class KeyProviderError(Refused, KeyError):
    """Base class for key problems. A ``KeyError`` so callers can treat 'no usable key' uniformly."""

    def __str__(self) -> str:
        # KeyError.__str__ quotes its argument as if it were a dict key; show the message plainly.
        return str(self.args[0]) if self.args else ""


class KeyUnavailableError(KeyProviderError):
    """The key (or the current version marker) is missing, unreadable or badly encoded."""


class WeakKeyError(KeyProviderError):
    """The key exists but cannot be trusted: wrong length, not random-looking, or reused across purposes."""


class Key:
    """A versioned secret for one purpose. The bytes are reachable only through ``.material``."""

    __slots__ = ("_material", "purpose", "version")

    def __init__(self, purpose: Purpose, version: int, material: bytes) -> None:
        if purpose not in _ENV_NAMES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        _check_version(version, f"{purpose} key")
        _check_strength(material, f"{purpose} key v{version}")
        self.purpose: Purpose = purpose
        self.version: int = version
        self._material = bytes(material)

    @property
    def material(self) -> bytes:
        """The raw 32 key bytes. Pass them to a primitive; never log, print or persist them."""
        return self._material

    def __repr__(self) -> str:
        return f"Key(purpose={self.purpose!r}, version={self.version}, material=<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        return (
            self.purpose == other.purpose
            and self.version == other.version
            and secrets.compare_digest(self._material, other._material)
        )

    def __hash__(self) -> int:
        return hash((self.purpose, self.version))

    def __reduce__(self) -> tuple[object, ...]:
        # Keys must not travel through pickle (multiprocessing, caches, Dagster IO managers).
        raise TypeError("Key objects cannot be pickled; pass a KeyProvider or re-read the key instead")


def _check_version(version: int, what: str) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise KeyUnavailableError(f"{what}: key version must be a positive integer")


def _check_strength(material: bytes, what: str) -> None:
    """Refuse keys that are the wrong size or visibly non-random. Messages never include the bytes."""
    if not isinstance(material, bytes | bytearray):
        raise WeakKeyError(f"{what}: key material must be bytes")
    if len(material) != KEY_BYTES:
        raise WeakKeyError(f"{what}: key must be exactly {KEY_BYTES} bytes, got {len(material)}")
    if len(set(material)) < _MIN_DISTINCT_BYTES:
        raise WeakKeyError(f"{what}: key has too few distinct byte values to be random")
    steps = {(material[i + 1] - material[i]) % 256 for i in range(len(material) - 1)}
    if len(steps) == 1:
        raise WeakKeyError(f"{what}: key is an arithmetic sequence, not random bytes")


def _decode(text: str, source: str) -> bytes:
    """Decode hex (64 hex digits) or base64 (standard or URL-safe) text. Never echo the text."""
    value = text.strip()
    if not value:
        raise KeyUnavailableError(f"{source} is empty")
    if len(value) == 2 * KEY_BYTES and _HEX_RE.fullmatch(value):
        return bytes.fromhex(value)
    if _B64_RE.fullmatch(value):
        padded = value + "=" * (-len(value) % 4)
        try:
            if "-" in value or "_" in value:
                return base64.urlsafe_b64decode(padded)
            return base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise KeyUnavailableError(f"{source} is not valid base64 or 64-digit hex")


class _Source(Protocol):
    def describe(self, purpose: Purpose, version: int) -> str: ...
    def current_version(self) -> int: ...
    def versions(self, purpose: Purpose) -> list[int]: ...
    def load(self, purpose: Purpose, version: int) -> bytes: ...


class _EnvSource:
    """One version of each key from environment variables, read only when asked for."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def describe(self, purpose: Purpose, version: int) -> str:
        return f"environment variable {_ENV_NAMES[purpose]}"

    def current_version(self) -> int:
        raw = self._environ.get(_ENV_VERSION, "1").strip()
        if not raw.isdigit() or int(raw) < 1:
            raise KeyUnavailableError(f"{_ENV_VERSION} must be a positive integer")
        return int(raw)

    def versions(self, purpose: Purpose) -> list[int]:
        return [self.current_version()] if _ENV_NAMES[purpose] in self._environ else []

    def load(self, purpose: Purpose, version: int) -> bytes:
        name = _ENV_NAMES[purpose]
        if purpose not in _SINGLE_VERSION and version != self.current_version():
            raise KeyUnavailableError(
                f"{purpose} key v{version} requested but the environment holds only "
                f"v{self.current_version()} ({_ENV_VERSION}); use a key directory for several versions"
            )
        raw = self._environ.get(name)
        if raw is None:
            raise KeyUnavailableError(
                f"{purpose} key unavailable: set {name} (32 random bytes, base64 or hex) or use a key directory"
            )
        return _decode(raw, f"environment variable {name}")


class _DirectorySource:
    """Versioned key files in one folder; optionally refuses files readable by group or others."""

    def __init__(self, directory: Path, *, strict_permissions: bool) -> None:
        self.directory = directory
        self._strict = strict_permissions

    def _path(self, purpose: Purpose, version: int) -> Path:
        return self.directory / f"{purpose}_key_v{version}.key"

    def describe(self, purpose: Purpose, version: int) -> str:
        return f"key file {self._path(purpose, version)}"

    def _read_text(self, path: Path, what: str) -> str:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise KeyUnavailableError(f"{what} not found: {path}") from None
        except OSError as exc:
            raise KeyUnavailableError(f"{what} cannot be read: {path} ({exc.strerror})") from None
        try:
            mode = os.fstat(fd).st_mode
            if self._strict and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyUnavailableError(
                    f"{what} {path} is accessible by group/others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
                )
            data = os.read(fd, _MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) > _MAX_FILE_BYTES:
            raise KeyUnavailableError(f"{what} {path} is too large to be a key file")
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            raise KeyUnavailableError(f"{what} {path} is not base64 or hex text") from None

    def current_version(self) -> int:
        path = self.directory / _CURRENT_VERSION_FILE
        raw = self._read_text(path, "current key version file").strip()
        if not raw.isdigit() or int(raw) < 1:
            raise KeyUnavailableError(f"{path} must contain a positive integer")
        return int(raw)

    def versions(self, purpose: Purpose) -> list[int]:
        pattern = re.compile(rf"{purpose}_key_v([1-9][0-9]*)\.key")
        if not self.directory.is_dir():
            return []
        found = (pattern.fullmatch(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def load(self, purpose: Purpose, version: int) -> bytes:
        path = self._path(purpose, version)
        return _decode(self._read_text(path, f"{purpose} key file"), f"key file {path}")


class _DevSource(_DirectorySource):
    """A directory source that creates the folder (0700) and any missing key (0600) on first use."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, strict_permissions=True)

    def _ensure_dir(self) -> None:
        private_dir(self.directory)

    def _create_exclusive(self, path: Path, text: str) -> None:
        """Write a new private file; if another process won the race, its key is as good as ours."""
        try:
            write_private(path, text.encode("ascii"))
        except FileExistsError:
            pass

    def current_version(self) -> int:
        path = self.directory / _CURRENT_VERSION_FILE
        if not path.exists():
            self._ensure_dir()
            self._create_exclusive(path, "1\n")
        return super().current_version()

    def load(self, purpose: Purpose, version: int) -> bytes:
        path = self._path(purpose, version)
        if not path.exists():
            self._ensure_dir()
            material = secrets.token_bytes(KEY_BYTES)
            self._create_exclusive(path, base64.b64encode(material).decode("ascii") + "\n")
        return super().load(purpose, version)


class KeyProvider:
    """Hands out the token and vault keys, lazily and independently, with strength checks.

    ``token_key()`` never touches the vault key's source, so analyst-facing code can hold a provider
    whose vault key does not exist on that machine at all.
    """

    def __init__(self, source: _Source, *, mode: str) -> None:
        self._source = source
        self._mode = mode
        self._cache: dict[tuple[Purpose, int], Key] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyProvider:
        """Keys from ``PHM_TOKEN_KEY`` / ``PHM_VAULT_KEY`` / ``PHM_KEY_VERSION`` in ``environ``.

        Pass the mapping from the entry point (default ``os.environ``); variables are read on first use.
        """
        return cls(_EnvSource(os.environ if environ is None else environ), mode="env")

    @classmethod
    def from_directory(
        cls, directory: str | os.PathLike[str], *, strict_permissions: bool = True
    ) -> KeyProvider:
        """Keys from ``token_key_v{n}.key`` / ``vault_key_v{n}.key`` and ``current_version`` in a folder.

        With ``strict_permissions`` (default) key files readable by group or others are refused.
        """
        return cls(_DirectorySource(Path(directory), strict_permissions=strict_permissions), mode="directory")

    @classmethod
    def dev(cls, home_keys_dir: str | os.PathLike[str]) -> KeyProvider:
        """Development keys in ``home_keys_dir``: generated on first use, reused afterwards."""
        return cls(_DevSource(Path(home_keys_dir)), mode="dev")

    def __repr__(self) -> str:
        return f"KeyProvider(mode={self._mode!r})"

    def current_version(self) -> int:
        """The key version new tokens and vault entries are made with."""
        return self._source.current_version()

    def versions(self, purpose: Purpose) -> list[int]:
        """Versions of ``purpose`` keys this source holds (several during a rotation)."""
        return self._source.versions(purpose)

    def token_key(self, version: int | None = None) -> Key:
        """The token master key (current version unless given). Never reads the vault key."""
        return self._get("token", version)

    def vault_key(self, version: int | None = None) -> Key:
        """The vault encryption key (current version unless given). Only the release step needs this."""
        return self._get("vault", version)

    def audit_key(self) -> Key:
        """The audit log's MAC key (one version, independent of the token/vault version)."""
        return self._get("audit", AUDIT_KEY_VERSION)

    def lineage_key(self) -> Key:
        """The lineage key (one version): row and record-id tokens only the identifiable zone resolves."""
        return self._get("lineage", AUDIT_KEY_VERSION)

    def _get(self, purpose: Purpose, version: int | None) -> Key:
        resolved = self.current_version() if version is None else version
        _check_version(resolved, f"{purpose} key")
        cached = self._cache.get((purpose, resolved))
        if cached is not None:
            return cached
        material = self._source.load(purpose, resolved)
        _check_strength(material, self._source.describe(purpose, resolved))
        key = Key(purpose, resolved, material)
        for (kind, _), sibling in self._cache.items():
            if kind != purpose and secrets.compare_digest(sibling.material, key.material):
                raise WeakKeyError(f"the {kind} and {purpose} keys are identical; they must be independent")
        self._cache[(purpose, resolved)] = key
        return key


def create_audit_key(directory: str | os.PathLike[str]) -> bool:
    """Create ``audit_key_v1.key`` (0600, folder 0700) in a key folder if it has none; True if created.

    Called when an installation's audit log is started (the first governance install), so that the log
    is MAC'd from its first entry. An existing key is never replaced: that would orphan the log.
    """
    folder = private_dir(Path(directory))
    path = folder / f"audit_key_v{AUDIT_KEY_VERSION}.key"
    if path.exists():
        return False
    try:
        write_private(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
    except FileExistsError:
        return False
    return True
