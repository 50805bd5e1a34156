"""Setting up governance, audited: adding approvers, installing bundles, and the dev-mode defaults.

``add_approver`` and ``install_bundle`` (``bundle.py``) change what a release trusts, so each attempt
goes into the audit log like a release does (events ``approver_add`` and ``register_install``, with
the bundle's hash). The audit key is created with the audit log, when the first of these runs on a key
folder that has none (never later: a missing key for an existing log is a refusal, not a new key).

``install_dev_governance`` is for the embedded demo only (``phm run`` on the default home): it makes a
dev approver key (0600), practice keys for the demo's practices in ``HOME/practice_side/`` (standing in
for the key each practice would hold on its own machine), an example users register (one GP and one
care coordinator per practice, one research analyst), signs the shipped example register with them and
installs it, the same steps an ICS takes by hand (docs/governance.md, 'Setting up').
"""

from __future__ import annotations

import base64
import csv
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from core.files import private_dir
from core.layout import Home

from ..keys import KeyProvider, create_audit_key
from .audit import AuditLog
from .bundle import (
    ORGANISATIONS_FILE,
    REGISTER_FILE,
    USERS_FILE,
    Governance,
    GovernanceError,
    add_approver,
    install_bundle,
    new_approver_key,
    sign_bundle,
)
from .register import EXAMPLE_REGISTER
from .sealing import new_practice_key

__all__ = [
    "DEV_APPROVER",
    "add_approver_audited",
    "install_audited",
    "install_dev_governance",
    "start_audit_key",
]

DEV_APPROVER = "dev-approver"
_DEV_ACTIVE_FROM = date(2026, 1, 1)


def start_audit_key(home: Home, key_dir: Path | None) -> None:
    """Create the audit key in ``key_dir`` if the installation has no audit log yet (see module doc)."""
    if key_dir is not None and not home.audit_log.exists():
        create_audit_key(key_dir)


def add_approver_audited(home: Home, keys: KeyProvider, approver_id: str, public_key: str) -> Path:
    """``add_approver``, recorded in the audit log either way (``GovernanceError`` when refused)."""
    log = AuditLog.for_home(home, keys)
    log.head()
    try:
        path = add_approver(home, approver_id, public_key)
    except GovernanceError as exc:
        log.append(event="approver_add", outcome="denied", reason=exc.reason)
        raise
    log.append(event="approver_add", outcome="granted", user=approver_id)
    return path


def install_audited(home: Home, keys: KeyProvider, folder: Path) -> Governance:
    """``install_bundle``, recorded in the audit log with the bundle's hash (``GovernanceError`` if refused)."""
    log = AuditLog.for_home(home, keys)
    log.head()
    try:
        governance = install_bundle(home, folder)
    except GovernanceError as exc:
        log.append(event="register_install", outcome="denied", reason=exc.reason)
        raise
    log.append(
        event="register_install",
        outcome="granted",
        user=governance.approver,
        register_sha256=governance.sha256,
    )
    return governance


def _practices(landing: Path) -> list[tuple[str, str, str]]:
    """(ODS, name, PCN) of the demo's practices, from its reference file (empty if there is none)."""
    path = landing / "reference" / "practices.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["Practice_Code"], r["Practice_Name"], r["PCN_Code"]) for r in csv.DictReader(f)]


def _practice_public_key(home: Home, ods: str) -> str:
    path = private_dir(home.practice_side) / f"{ods}.key"
    if not path.exists():
        return new_practice_key(path)
    private = X25519PrivateKey.from_private_bytes(base64.b64decode(path.read_bytes().strip()))
    return base64.b64encode(private.public_key().public_bytes_raw()).decode("ascii")


def _example_users(practices: list[tuple[str, str, str]]) -> dict[str, object]:
    users: list[dict[str, object]] = []
    for ods, name, _pcn in practices:
        users.append({"id": f"gp-{ods.lower()}", "name": f"Dr Example ({name})", "rbac_role_code": "R8000",
                      "rbac_role_title": "Clinical Practitioner Access Role", "organisations": [ods],
                      "active_from": _DEV_ACTIVE_FROM.isoformat()})  # fmt: skip
        users.append({"id": f"cc-{ods.lower()}", "name": f"Care Coordinator ({name})", "rbac_role_code": "R8008",
                      "rbac_role_title": "Admin/Clinical Support Access Role", "organisations": [ods],
                      "active_from": _DEV_ACTIVE_FROM.isoformat()})  # fmt: skip
    pcns = sorted({pcn for _, _, pcn in practices})
    if pcns:
        users.append({"id": "analyst-research", "name": "Research Analyst (example)", "rbac_role_code": "R8003",
                      "rbac_role_title": "Health Professional Access Role", "organisations": pcns[:1],
                      "active_from": _DEV_ACTIVE_FROM.isoformat()})  # fmt: skip
    return {"users": users}


def install_dev_governance(home: Home, landing: Path, keys: KeyProvider, key_dir: Path) -> Governance | None:
    """Sign and install the example governance with a dev approver, once (None if one is installed)."""
    if home.governance_installed.exists():
        return None
    start_audit_key(home, key_dir)
    approver_key = home.dev_approver_key
    if not approver_key.exists():
        private_dir(approver_key.parent)
        add_approver_audited(home, keys, DEV_APPROVER, new_approver_key(approver_key))
    practices = _practices(landing)
    folder = private_dir(approver_key.parent / "bundle")
    shutil.copyfile(EXAMPLE_REGISTER, folder / REGISTER_FILE)
    (folder / USERS_FILE).write_text(yaml.safe_dump(_example_users(practices), sort_keys=False), "utf-8")
    orgs = [
        {"ods": ods, "name": name, "hpke_public_key": _practice_public_key(home, ods)}
        for ods, name, _ in practices
    ]
    (folder / ORGANISATIONS_FILE).write_text(
        yaml.safe_dump({"organisations": orgs}, sort_keys=False), "utf-8"
    )
    sign_bundle(folder, approver_key, DEV_APPROVER, now=datetime.now(UTC))
    return install_audited(home, keys, folder)
