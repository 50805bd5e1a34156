"""The governance bundle: the register, users and organisations in force, signed by an approver.

A bundle is a folder of ``governance_register.yaml``, ``users.yaml``, ``organisations.yaml`` and any
``consent/*.csv`` evidence its consent purposes name. An approver signs it (``sign_bundle``): the
``manifest.json`` lists each file's SHA-256 and ``manifest.sig`` is the approver's Ed25519 signature
of the manifest's exact bytes. ``install_bundle`` checks the signature against the approvers' public
keys installed in the home (``add_approver``, an explicit setup step) and copies the bundle into the
identifiable zone. Every release then uses ``load_installed``, which **re-checks** the signature and
every file's hash, so an installed file edited afterwards is refused, not honoured. The manifest's own
SHA-256 identifies the bundle in every audit entry (``register_sha256``).

Nothing here touches patient data except consent evidence, which is read as bytes and never shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.errors import Refused
from core.files import private_dir, write_private
from core.layout import Home

from ._schema import RegisterError
from .register import GovernanceRegister, load_register
from .users import Organisations, UsersRegister, load_organisations, load_users

__all__ = [
    "BUNDLE_FORMAT",
    "REGISTER_FILE",
    "Governance",
    "GovernanceError",
    "add_approver",
    "install_bundle",
    "load_installed",
    "new_approver_key",
    "sign_bundle",
    "verify_bundle",
]

BUNDLE_FORMAT: Final = "phm-governance-bundle/1"
REGISTER_FILE: Final = "governance_register.yaml"
USERS_FILE: Final = "users.yaml"
ORGANISATIONS_FILE: Final = "organisations.yaml"
MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "manifest.sig"
_REQUIRED: Final = (REGISTER_FILE, USERS_FILE, ORGANISATIONS_FILE)
_CONSENT = re.compile(r"^consent/[a-z0-9][a-z0-9_-]{0,63}\.csv$")
_APPROVER_ID = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_MAX_FILE: Final = 64 << 20


class GovernanceError(Refused):
    """The governance bundle cannot be used. ``reason``: a code (see docs/governance.md)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"governance bundle refused ({reason}): {message}")
        self.reason = reason


@dataclass(frozen=True)
class Governance:
    """A verified bundle: what a release may rely on."""

    sha256: str  # of manifest.json: the bundle's identity in the audit log
    approver: str
    signed_at: str
    register: GovernanceRegister
    users: UsersRegister
    organisations: Organisations
    files: dict[str, bytes] = field(repr=False)  # every signed file, as verified

    def consent_evidence(self, name: str) -> bytes | None:
        return self.files.get(name)


def _read_plain(path: Path) -> bytes:
    """A regular file's bytes, refusing a symlink (whose target could change after signing)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise GovernanceError("changed_since_signing", f"{path.name} is missing") from None
    except OSError:
        raise GovernanceError("changed_since_signing", f"{path.name} is not a plain file") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GovernanceError("changed_since_signing", f"{path.name} is not a plain file")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(_MAX_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_FILE:
        raise GovernanceError("changed_since_signing", f"{path.name} is too large")
    return data


def _bundle_files(folder: Path) -> list[str]:
    """The files a bundle holds (relative names), refusing anything that is not a plain file we know."""
    names: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel in (MANIFEST, SIGNATURE) or (path.is_dir() and not path.is_symlink() and rel == "consent"):
            continue
        if path.is_symlink() or not path.is_file():
            raise GovernanceError("invalid_bundle", f"{rel} is not a plain file")
        if rel not in _REQUIRED and not _CONSENT.fullmatch(rel):
            raise GovernanceError(
                "invalid_bundle", f"{rel} is not a governance file (see docs/governance.md)"
            )
        names.append(rel)
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        raise GovernanceError("invalid_bundle", f"the bundle has no {missing[0]}")
    return names


def _parse(folder: Path, files: dict[str, bytes]) -> tuple[GovernanceRegister, UsersRegister, Organisations]:
    """Validate the three files from the verified bytes; consent purposes must name a bundled file."""
    try:
        register = load_register(folder / REGISTER_FILE, text=files[REGISTER_FILE].decode("utf-8"))
        users = load_users(folder / USERS_FILE, text=files[USERS_FILE].decode("utf-8"))
        orgs = load_organisations(folder / ORGANISATIONS_FILE, text=files[ORGANISATIONS_FILE].decode("utf-8"))
    except UnicodeDecodeError:
        raise GovernanceError("invalid_bundle", "a governance file is not UTF-8 text") from None
    except RegisterError as exc:
        raise GovernanceError("invalid_register", str(exc)) from None
    for purpose in register.purposes:
        if purpose.consent_register is not None and purpose.consent_register not in files:
            raise GovernanceError(
                "invalid_bundle",
                f"purpose '{purpose.id}' names {purpose.consent_register}, not in the bundle",
            )
    return register, users, orgs


def new_approver_key(path: Path) -> str:
    """Write a new Ed25519 signing key to ``path`` (0600, never overwritten) and its public key to
    ``path.pub``; return the public key (base64). The private key stays with the approver."""
    key = Ed25519PrivateKey.generate()
    write_private(path, base64.b64encode(key.private_bytes_raw()) + b"\n")
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode("ascii")
    write_private(path.with_name(path.name + ".pub"), (public + "\n").encode("ascii"))
    return public


def _public_key(text: str, what: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise GovernanceError("unknown_approver", f"{what} is not an Ed25519 public key (base64)") from None


def add_approver(home: Home, approver_id: str, public_key: str) -> Path:
    """Install an approver's public key (never replacing one: a changed key is a new approver id)."""
    if not _APPROVER_ID.fullmatch(approver_id):
        raise GovernanceError(
            "unknown_approver", "an approver id is lower-case letters, digits, '-', '_', '.'"
        )
    _public_key(public_key, "the approver's key")
    path = private_dir(home.governance_approvers) / f"{approver_id}.pub"
    try:
        write_private(path, (public_key.strip() + "\n").encode("ascii"))
    except FileExistsError:
        raise GovernanceError("approver_exists", f"approver '{approver_id}' is already installed") from None
    return path


def sign_bundle(folder: Path, private_key: Path, approver_id: str, *, now: datetime) -> str:
    """Check the bundle's files, then write its manifest and the approver's signature; return its SHA-256."""
    if not _APPROVER_ID.fullmatch(approver_id):
        raise GovernanceError(
            "unknown_approver", "an approver id is lower-case letters, digits, '-', '_', '.'"
        )
    names = _bundle_files(folder)
    files = {name: _read_plain(folder / name) for name in names}
    _parse(folder, files)
    try:
        key = Ed25519PrivateKey.from_private_bytes(
            base64.b64decode(_read_plain(private_key).strip(), validate=True)
        )
    except (binascii.Error, ValueError):
        raise GovernanceError(
            "bad_signature", "the signing key is not an Ed25519 private key (base64)"
        ) from None
    manifest = {
        "format": BUNDLE_FORMAT,
        "approver": approver_id,
        "signed_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    body = json.dumps(manifest, sort_keys=True, indent=1).encode("utf-8") + b"\n"
    signature = base64.b64encode(key.sign(body)) + b"\n"
    write_private(folder / MANIFEST, body, replace=True)
    write_private(folder / SIGNATURE, signature, replace=True)
    return hashlib.sha256(body).hexdigest()


def verify_bundle(folder: Path, approvers: Path) -> Governance:
    """Check the signature (against an installed approver) and every file's hash; parse the files."""
    if not (folder / SIGNATURE).exists() and not (folder / SIGNATURE).is_symlink():
        raise GovernanceError("unsigned", f"{folder} has no {SIGNATURE}: an approver must sign it")
    body = _read_plain(folder / MANIFEST)
    try:
        manifest = json.loads(body)
        approver, files, signed_at = manifest["approver"], manifest["files"], manifest["signed_at"]
        ok = manifest["format"] == BUNDLE_FORMAT and isinstance(files, dict)
        ok = ok and all(isinstance(v, str) and _SHA.fullmatch(v) for v in files.values())
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok or not isinstance(approver, str) or not _APPROVER_ID.fullmatch(approver):
        raise GovernanceError("bad_signature", f"{MANIFEST} is not a bundle manifest")
    key_path = approvers / f"{approver}.pub"
    if not key_path.is_file() or key_path.is_symlink():
        raise GovernanceError("unknown_approver", f"'{approver}' is not an installed approver")
    key = _public_key(_read_plain(key_path).decode("ascii", "replace"), f"approver '{approver}'")
    try:
        key.verify(base64.b64decode(_read_plain(folder / SIGNATURE).strip(), validate=True), body)
    except (InvalidSignature, binascii.Error, ValueError):
        raise GovernanceError("bad_signature", f"the signature does not match {MANIFEST}") from None
    present = _bundle_files(folder)
    if sorted(present) != sorted(files):
        extra = sorted(set(present) ^ set(files))
        raise GovernanceError("changed_since_signing", f"{extra[0]} was added or removed after signing")
    data = {name: _read_plain(folder / name) for name in present}
    for name, digest in files.items():
        if hashlib.sha256(data[name]).hexdigest() != digest:
            raise GovernanceError("changed_since_signing", f"{name} was changed after signing")
    register, users, orgs = _parse(folder, data)
    return Governance(hashlib.sha256(body).hexdigest(), approver, str(signed_at), register, users, orgs, data)


def install_bundle(home: Home, folder: Path) -> Governance:
    """Verify a signed bundle and make it the one in force (the previous one stays on disk)."""
    governance = verify_bundle(folder, home.governance_approvers)
    target = home.governance_bundles / governance.sha256
    if not target.exists():
        staging = private_dir(home.governance_bundles) / f".{governance.sha256}.installing"
        shutil.rmtree(staging, ignore_errors=True)
        private_dir(staging)
        for name in (*governance.files, MANIFEST, SIGNATURE):
            if "/" in name:
                private_dir(staging / name.rpartition("/")[0])
            write_private(staging / name, _read_plain(folder / name))
        os.replace(staging, target)
    verify_bundle(target, home.governance_approvers)  # what was copied is what was verified
    write_private(home.governance_installed, (governance.sha256 + "\n").encode("ascii"), replace=True)
    return governance


def load_installed(home: Home) -> Governance:
    """The bundle in force, re-verified now (signature and every file): an edit since signing is refused."""
    try:
        sha = home.governance_installed.read_text("ascii").strip()
    except FileNotFoundError:
        raise GovernanceError(
            "no_bundle_installed", "no signed governance bundle is installed (phm governance install)"
        ) from None
    if not _SHA.fullmatch(sha):
        raise GovernanceError("changed_since_signing", f"{home.governance_installed} is not a bundle hash")
    governance = verify_bundle(home.governance_bundles / sha, home.governance_approvers)
    if governance.sha256 != sha:
        raise GovernanceError(
            "changed_since_signing", "the installed manifest differs from the one installed"
        )
    return governance
