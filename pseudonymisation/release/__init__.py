"""Governed release: the rules and the record for re-identifying a cohort list for a clinician.

Nothing here trusts the caller's word. What may be released, to whom and by whom comes from a
**governance bundle** (register of purposes, users register, receiving organisations' public keys,
consent evidence) that an approver signed and an explicit setup step installed (``bundle``); the
released list is sealed to the receiving practice's key (``sealing``); every governed act is recorded
in an audit log chained with a keyed MAC whose head is published after every entry (``audit``).

    governance = install_bundle(home, folder)              # signature checked against installed approvers
    outcome = release(home=home, landing=landing, purpose="proactive-frailty-review", cohort=c,
                      practice="A81001", user="gp-a81001", now=now, keys=keys)
    plain = open_list(outcome.path, practice_key_path)      # at the practice, with its private key
    assert AuditLog.for_home(home, keys).verify().ok        # chain, head file (and anchors)

See docs/governance.md and docs/security.md (threat model).
"""

from .audit import GENESIS_MAC, AuditEntry, AuditError, AuditLog, AuditValueError, Head, VerifyResult, verify
from .bundle import Governance, GovernanceError, add_approver, install_bundle, load_installed, sign_bundle
from .extract import ExtractError, ExtractOutcome, domain_tokens, extract
from .register import (
    LEGAL_BASES,
    RELEASE_FIELDS,
    GovernanceRegister,
    Purpose,
    Recipients,
    RegisterError,
    UnknownPurposeError,
    load_register,
)
from .release import DENIAL_REASONS, ReleaseOutcome, release
from .sealing import OpenListError, open_list, seal_list
from .transparency import TransparencyReport, build_report, write_report
from .users import UsersRegister, load_users

__all__ = [
    "DENIAL_REASONS",
    "GENESIS_MAC",
    "LEGAL_BASES",
    "RELEASE_FIELDS",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditValueError",
    "ExtractError",
    "ExtractOutcome",
    "Governance",
    "GovernanceError",
    "GovernanceRegister",
    "Head",
    "OpenListError",
    "Purpose",
    "Recipients",
    "RegisterError",
    "ReleaseOutcome",
    "TransparencyReport",
    "UnknownPurposeError",
    "UsersRegister",
    "VerifyResult",
    "add_approver",
    "build_report",
    "domain_tokens",
    "extract",
    "install_bundle",
    "load_installed",
    "load_register",
    "load_users",
    "open_list",
    "release",
    "seal_list",
    "sign_bundle",
    "verify",
    "write_report",
]
