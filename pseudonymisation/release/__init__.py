"""Governed release: the rules and the record for re-identifying a cohort list for a clinician.

Groundwork for re-identification (the release step itself comes later, once the warehouse cohorts exist).
Two foundations, neither of which touches patient data:

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

__all__ = [
    "GENESIS_HASH",
    "LEGAL_BASES",
    "RELEASE_FIELDS",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditValueError",
    "GovernanceRegister",
    "Head",
    "Purpose",
    "Recipients",
    "RegisterError",
    "UnknownPurposeError",
    "VerifyResult",
    "load_register",
    "sha256_file",
    "verify",
]
