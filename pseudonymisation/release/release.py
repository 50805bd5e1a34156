"""The governed release: a re-identified cohort list for one practice, sealed to that practice's key.

The only code path from the warehouse back to NHS numbers for a clinician. ``release`` reads the
**installed, signed** governance bundle (nothing a caller passes in), checks the request in a fixed
order and stops at the first failure, with a reason code and **no output at all**. A granted request
lists only the cohort's patients registered at the receiving practice, re-identified through the vault
(the vault key is read here and nowhere else in the release flow), with opt-outs re-checked against the
registers in landing *now*, and is written to the outbox encrypted to the practice's public key (HPKE),
so the operator who ran it cannot read it. Every attempt is appended to the keyed audit log with the
user id, the OS account, the bundle's hash, the count released and the SHA-256 of the sealed file; the
whole log is verified first, and a broken log refuses the release (``AuditError``).

Checks, in order (reason codes in ``DENIAL_REASONS``):

1. ``register_refused``        no installed bundle, or its signature or a file fails verification now;
2. ``unknown_purpose`` / ``purpose_not_active`` / ``cohort_not_permitted`` / ``practice_not_permitted``;
3. ``unknown_user`` / ``user_not_active`` / ``requester_not_permitted`` (the user's RBAC role) /
   ``user_not_in_organisation`` (the user does not work for this practice or its PCN);
4. ``recipient_key_unavailable``  the practice has no public key in the bundle to seal the list to;
5. ``consent_evidence_unavailable``  a consent purpose whose evidence cannot be read;
6. ``cohort_unavailable`` / ``cohort_stale``;
7. ``vault_key_unavailable`` (or a key rotation is running); 8. ``opt_out_registers_unavailable``;
9. ``vault_tamper``; 10. ``outbox_unsafe`` / ``output_exists``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import duckdb
import polars as pl

from connectors.errors import ExtractFileError
from connectors.optouts import OptOuts, load_opt_outs
from core.layout import Home

from ..keys import KeyProvider, KeyProviderError
from ..vault import Vault, VaultError, VaultTamperError
from .audit import AuditLog, Subject, recorded_id
from .bundle import Governance, GovernanceError, load_installed
from .consent import Consent, ConsentError, active_consent
from .members import (
    COHORT_TABLE,
    PERSON_TABLE,
    Denied,
    cohort_built_at,
    field_columns,
    members,
    open_warehouse,
    pcn_of,
    table_columns,
)
from .outbox import outbox_file, write_outbox
from .register import Purpose, UnknownPurposeError
from .sealing import seal_list
from .users import UnknownUserError, User

__all__ = [
    "DENIAL_REASONS",
    "ReleaseOutcome",
    "check_purpose",
    "check_user",
    "release",
]

DENIAL_REASONS: Final[dict[str, str]] = {
    "register_refused": "the installed governance bundle is missing or fails verification",
    "unknown_purpose": "the purpose is not in the governance register",
    "purpose_not_active": "the purpose is not active on this date (expired or not yet approved)",
    "cohort_not_permitted": "this purpose does not permit this cohort",
    "practice_not_permitted": "this practice may not receive releases under this purpose",
    "unknown_user": "the user is not in the users register",
    "user_not_active": "the user is not active on this date",
    "requester_not_permitted": "the user's RBAC role is not permitted for this purpose",
    "user_not_in_organisation": "the user does not work for the receiving organisation",
    "recipient_key_unavailable": "the receiving organisation has no public key in the governance bundle",
    "consent_evidence_unavailable": "the consent register this purpose names cannot be read",
    "cohort_unavailable": "the cohort (or a field the purpose releases) is not in the warehouse",
    "cohort_stale": "the cohort was built longer ago than this purpose allows",
    "vault_key_unavailable": "the vault or its key is unavailable (or a key rotation is in progress)",
    "opt_out_registers_unavailable": "the opt-out registers cannot be read, so opt-outs cannot be re-checked",
    "vault_tamper": "a vault entry failed authentication; nothing was released",
    "outbox_unsafe": "the outbox path is not safe to write to (symlink, or a folder not private to us)",
    "output_exists": "an output file with this name already exists",
    "domain_not_permitted": "this purpose does not permit extracts to this recipient domain",
}

_ODS_PRACTICE = re.compile(r"^[A-Z][0-9]{5}$")
_USER_ID = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True)
class ReleaseOutcome:
    """What happened, in counts and codes only (safe to print and log)."""

    granted: bool
    reason: str | None  # denial code (``DENIAL_REASONS``); None when granted
    message: str
    path: Path | None = None
    count_released: int = 0
    output_sha256: str | None = None
    audit_seq: int = 0
    removed_by_route: dict[str, int] = field(default_factory=dict)
    not_in_vault: int = 0


def governance_in_force(home: Home) -> Governance:
    """The installed bundle, re-verified now; ``Denied('register_refused')`` naming why it is not usable."""
    try:
        return load_installed(home)
    except GovernanceError as exc:
        raise Denied("register_refused", exc.reason) from None


def check_purpose(governance: Governance, purpose_id: str, cohort: str, today: date) -> Purpose:
    """The registered purpose, active today and covering ``cohort`` (``Denied`` otherwise)."""
    try:
        purpose = governance.register.purpose(purpose_id)
    except UnknownPurposeError:
        raise Denied("unknown_purpose") from None
    if not purpose.is_active(today):
        raise Denied("purpose_not_active", "expired" if today >= purpose.expires_on else "not yet approved")
    if not purpose.permits_cohort(cohort):
        raise Denied("cohort_not_permitted")
    return purpose


def check_user(governance: Governance, user_id: str, purpose: Purpose, today: date) -> User:
    """The registered, active user whose RBAC role this purpose permits (``Denied`` otherwise)."""
    try:
        user = governance.users.user(user_id)
    except UnknownUserError:
        raise Denied("unknown_user") from None
    if not user.is_active(today):
        raise Denied("user_not_active")
    if not purpose.permits_requester(user.rbac_role_code):
        raise Denied("requester_not_permitted", f"role {user.rbac_role_code}")
    return user


def _remove_opt_outs(
    frame: pl.DataFrame, opt_outs: OptOuts, purpose: Purpose, consent: Consent | None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Drop people without active consent (consent purposes) and people who opted out by a route that
    binds this purpose, unless their consent record overrides their opt-outs; counts per route."""
    removed: dict[str, int] = {}
    exempt: frozenset[str] = frozenset()
    if consent is not None:
        has = frame.get_column("nhs_number").is_in(
            pl.Series(sorted(consent.active), dtype=pl.String).implode()
        )
        removed["no_consent"] = int((~has).sum())
        frame = frame.filter(has)
        exempt = consent.overrides_opt_outs
    routes: list[tuple[str, frozenset[str]]] = []
    if purpose.ndoo_applies:
        routes.append(("ndoo", opt_outs.ndoo))
    if purpose.legal_basis != "individual_care":  # Type 1 binds every basis but direct care
        routes.append(("type1", opt_outs.type1))
    for route, numbers in routes:
        binding = pl.Series(sorted(numbers - exempt), dtype=pl.String)
        hit = frame.get_column("nhs_number").is_in(binding.implode())
        removed[route] = int(hit.sum())
        frame = frame.filter(~hit)
    return frame, removed


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _csv_bytes(frame: pl.DataFrame, fields: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in frame.select(list(fields)).iter_rows():
        writer.writerow([_format(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def release(
    *,
    home: Home,
    landing: Path,
    purpose: str,
    cohort: str,
    practice: str,
    user: str,
    now: datetime,
    keys: KeyProvider,
) -> ReleaseOutcome:
    """Check a release request and, if every check passes, write the sealed list to the outbox.

    ``user``: an id from the installed users register. ``now`` (timezone-aware) dates the request.
    Returns a ``ReleaseOutcome`` either way; raises ``AuditError`` if the audit log is broken or
    cannot be written (nothing is released then).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    log = AuditLog.for_home(home, keys)
    log.head()  # the whole chain and its head file must hold before anything else happens
    audit: Subject = {
        "user": recorded_id(user, _USER_ID),
        "purpose": recorded_id(purpose, _SAFE_ID),
        "cohort": recorded_id(cohort, _SAFE_ID),
        "practice": recorded_id(practice, _ODS_PRACTICE),
    }
    register_sha: str | None = None
    con: duckdb.DuckDBPyConnection | None = None
    try:
        governance = governance_in_force(home)
        register_sha = governance.sha256
        con = open_warehouse(home)
        return _checked(
            home, landing, governance, purpose, cohort, practice, user, now, keys, con, log, audit
        )
    except Denied as denied:
        entry = log.append(event="release", outcome="denied", reason=denied.reason, register_sha256=register_sha, time=now, **audit)  # fmt: skip
        message = DENIAL_REASONS[denied.reason] + (f" ({denied.detail})" if denied.detail else "")
        return ReleaseOutcome(False, denied.reason, message, audit_seq=entry.seq)
    finally:
        if con is not None:
            con.close()


def _checked(
    home: Home,
    landing: Path,
    governance: Governance,
    purpose_id: str,
    cohort: str,
    practice: str,
    user_id: str,
    now: datetime,
    keys: KeyProvider,
    con: duckdb.DuckDBPyConnection | None,
    log: AuditLog,
    audit: Subject,
) -> ReleaseOutcome:
    today = now.astimezone(UTC).date()
    purpose = check_purpose(governance, purpose_id, cohort, today)
    columns = table_columns(con) if con is not None else {}
    pcn = pcn_of(con, columns, practice) if _ODS_PRACTICE.fullmatch(practice) else None
    if not _ODS_PRACTICE.fullmatch(practice) or not purpose.permits_recipient(practice, pcn):
        raise Denied("practice_not_permitted")
    user = check_user(governance, user_id, purpose, today)
    if not user.works_for(practice, pcn):
        raise Denied("user_not_in_organisation")
    organisation = governance.organisations.get(practice)
    if organisation is None:
        raise Denied("recipient_key_unavailable")
    consent: Consent | None = None
    if purpose.consent_register is not None:
        evidence = governance.consent_evidence(purpose.consent_register)
        try:
            consent = active_consent(evidence if evidence is not None else b"", today)
        except ConsentError:
            raise Denied("consent_evidence_unavailable") from None
    needed = {COHORT_TABLE: {"cohort_id", "person_token", "reason", "built_at"}, PERSON_TABLE: {"person_token", "practice_code"}}  # fmt: skip
    if con is None or any(not cols <= columns.get(t, set()) for t, cols in needed.items()):
        raise Denied("cohort_unavailable", "no warehouse, or its cohort tables are missing")
    built_at = cohort_built_at(con, cohort)
    if built_at is None:
        raise Denied("cohort_unavailable", "the cohort has not been built")
    built_on = (built_at.astimezone(UTC) if built_at.tzinfo else built_at).date()
    if not purpose.cohort_is_fresh(built_on, on=today):
        raise Denied("cohort_stale", f"built {built_on}, allowed {purpose.max_cohort_age_days} days")
    fields = field_columns(columns, purpose.fields)
    frame = members(
        con, columns, cohort=cohort, built_at=built_at, practice=practice, on=today, fields=fields
    )
    if home.rotation_journal.exists():
        raise Denied("vault_key_unavailable", "a key rotation is in progress")
    try:
        vault_key = keys.vault_key()
    except KeyProviderError:
        raise Denied("vault_key_unavailable") from None
    try:
        opt_outs = load_opt_outs(landing)
    except (ExtractFileError, OSError):
        raise Denied("opt_out_registers_unavailable") from None
    try:
        with Vault.open(home.vault, vault_key, read_only=True) as vault:
            numbers = vault.reidentify(frame.get_column("person_token"))
    except VaultTamperError:
        raise Denied("vault_tamper") from None
    except (VaultError, KeyProviderError, duckdb.Error):
        raise Denied("vault_key_unavailable", "the vault cannot be opened with the current key") from None
    lookup = pl.DataFrame(
        {"person_token": list(numbers), "nhs_number": list(numbers.values())},
        schema={"person_token": pl.String, "nhs_number": pl.String},
    )
    found = frame.join(lookup, on="person_token", how="inner")
    kept, removed = _remove_opt_outs(found, opt_outs, purpose, consent)
    kept = kept.with_columns(pl.lit(practice).alias("practice_ods")).sort("nhs_number")
    sealed = seal_list(
        _csv_bytes(kept, purpose.fields), organisation.public_key(), purpose=purpose.id, practice=practice,
        legal_basis=purpose.legal_basis, released_on=today.isoformat(),
    )  # fmt: skip
    path = outbox_file(home, purpose.id, practice, now)
    write_outbox(path, sealed)
    digest = hashlib.sha256(sealed).hexdigest()
    try:
        entry = log.append(event="release", outcome="granted", count_released=kept.height, output_sha256=digest, register_sha256=governance.sha256, time=now, **audit)  # fmt: skip
    except BaseException:
        path.unlink(missing_ok=True)  # no audit entry, no release
        raise
    return ReleaseOutcome(
        True,
        None,
        f"released {kept.height} patient(s) to {path}",
        path=path,
        count_released=kept.height,
        output_sha256=digest,
        audit_seq=entry.seq,
        removed_by_route=removed,
        not_in_vault=frame.height - found.height,
    )
