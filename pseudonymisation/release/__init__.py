"""Governed release: the rules and the record for re-identifying a cohort list for a clinician.

The release step (``release``), domain extracts (``extract``) and the public transparency report
(``transparency``) stand on two foundations, neither of which touches patient data:

- ``register``: the governance register, a reviewed YAML file saying which purposes may release which
  cohorts, to whom, with which fields, under which legal basis and until when;
- ``audit``: an append-only, hash-chained JSON-lines log of every release attempt, granted or denied,
  which refuses to record anything that looks like an NHS number.

    register = load_register(path)                      # RegisterError names file, line and reason
    purpose = register.purpose("proactive-frailty-review")
    if purpose.is_active(today) and purpose.permits_cohort(c) and purpose.permits_recipient(ods, pcn):
        ...
    log = AuditLog(audit_path)
    log.append(requester="GP", purpose=purpose.id, cohort=c, practice=ods, outcome="denied",
               reason="purpose_expired")
    assert verify(audit_path).ok

See docs/governance.md.
"""

from .audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditError,
    AuditLog,
    AuditValueError,
    Head,
    VerifyResult,
    sha256_file,
    verify,
)
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
from .release import DENIAL_REASONS, ReleaseOutcome, audit_log_path, outbox_dir, release
from .transparency import TransparencyReport, build_report, write_report

__all__ = [
    "DENIAL_REASONS",
    "GENESIS_HASH",
    "LEGAL_BASES",
    "RELEASE_FIELDS",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditValueError",
    "ExtractError",
    "ExtractOutcome",
    "GovernanceRegister",
    "Head",
    "Purpose",
    "Recipients",
    "RegisterError",
    "ReleaseOutcome",
    "TransparencyReport",
    "UnknownPurposeError",
    "VerifyResult",
    "audit_log_path",
    "build_report",
    "domain_tokens",
    "extract",
    "load_register",
    "outbox_dir",
    "release",
    "sha256_file",
    "verify",
    "write_report",
]
