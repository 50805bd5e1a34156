"""Lists sealed to the receiving practice with HPKE (RFC 9180), so only that practice can open them.

The release encrypts the list to the practice's X25519 public key from the governance bundle
(``organisations.yaml``), as a letter to a mailbox: the operator who ran the release holds no key
that opens it. Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, single-shot. The HPKE
``info`` binds the ciphertext to its purpose and practice, so a sealed file renamed or moved to
another practice's folder does not open as if it were theirs.

File layout: one line of JSON header (format, purpose, practice, suite; legal_basis and released_on
when the release gives them, bound into ``info`` too), then the HPKE ciphertext
(encapsulated key followed by the AEAD output). The header holds no patient data.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from core.errors import Refused
from core.files import write_private

__all__ = ["SEALED_FORMAT", "OpenListError", "SealedList", "new_practice_key", "open_list", "seal_list"]

SEALED_FORMAT: Final = "phm-sealed-list/1"
_SUITE_NAME: Final = "DHKEM-X25519-HKDF-SHA256/HKDF-SHA256/AES-256-GCM"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class OpenListError(Refused):
    """The sealed list cannot be opened: wrong key, altered file, or not a sealed list."""


@dataclass(frozen=True)
class SealedList:
    purpose: str
    practice: str
    plaintext: bytes
    legal_basis: str | None = None  # the purpose's legal basis code (register), when the release gave it
    released_on: str | None = None  # ISO date of the release


def _info(
    purpose: str, practice: str, legal_basis: str | None = None, released_on: str | None = None
) -> bytes:
    # The optional fields are bound too (when present), so the worklist's legal basis and date are as
    # authentic as the list itself; a file sealed without them opens as before.
    extra = f"|{legal_basis}|{released_on}" if legal_basis is not None or released_on is not None else ""
    return f"{SEALED_FORMAT}|{purpose}|{practice}{extra}".encode()


def seal_list(
    data: bytes, public_key: X25519PublicKey, *, purpose: str, practice: str,
    legal_basis: str | None = None, released_on: str | None = None,
) -> bytes:  # fmt: skip
    """The sealed file's bytes: a header line, then HPKE(ciphertext) for ``practice``'s key."""
    header: dict[str, str | None] = {
        "format": SEALED_FORMAT,
        "purpose": purpose,
        "practice": practice,
        "suite": _SUITE_NAME,
    }
    if legal_basis is not None or released_on is not None:
        header |= {"legal_basis": legal_basis, "released_on": released_on}
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
    return line + _SUITE.encrypt(data, public_key, info=_info(purpose, practice, legal_basis, released_on))


def new_practice_key(path: Path) -> str:
    """Write a new X25519 private key (base64, 0600, never overwritten); return its public key (base64)
    for the practice's entry in ``organisations.yaml``."""
    key = X25519PrivateKey.generate()
    write_private(path, base64.b64encode(key.private_bytes_raw()) + b"\n")
    return base64.b64encode(key.public_key().public_bytes_raw()).decode("ascii")


def _private_key(path: Path) -> X25519PrivateKey:
    try:
        raw = base64.b64decode(path.read_bytes().strip(), validate=True)
        return X25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError):
        raise OpenListError(f"{path} is not a practice key (base64 X25519 private key)") from None


def open_list(path: Path, key_path: Path) -> SealedList:
    """Decrypt a sealed list with the practice's private key; ``OpenListError`` if it does not open."""
    blob = path.read_bytes()
    line, sep, ciphertext = blob.partition(b"\n")
    try:
        header = json.loads(line)
        ok = header.get("format") == SEALED_FORMAT and header.get("suite") == _SUITE_NAME
        purpose, practice = str(header["purpose"]), str(header["practice"])
        basis, released = header.get("legal_basis"), header.get("released_on")
        ok = ok and all(v is None or isinstance(v, str) for v in (basis, released))
    except (ValueError, KeyError, AttributeError):
        ok = False
    if not sep or not ok:
        raise OpenListError(f"{path} is not a sealed list ({SEALED_FORMAT})")
    try:
        info = _info(purpose, practice, basis, released)
        plaintext = _SUITE.decrypt(ciphertext, _private_key(key_path), info=info)
    except (InvalidTag, ValueError):
        raise OpenListError(
            f"{path} does not open with this key (sealed to practice {practice}; wrong key or altered file)"
        ) from None
    return SealedList(purpose, practice, plaintext, basis, released)
