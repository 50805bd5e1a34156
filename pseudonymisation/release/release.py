"""The governed release: a re-identified cohort list for one practice, for one approved purpose.

The only code path from the warehouse back to NHS numbers for a clinician. ``release`` checks the
request against the governance register in a fixed order and stops at the first failure, with a
reason code and **no output at all**. A granted request lists only the cohort's patients registered at
the receiving practice, re-identified through the vault (the vault key is read here and nowhere else in
the release flow), with opt-outs re-checked against the registers in landing *now*, so an opt-out
recorded after the last load still wins. Every attempt, granted or denied, is appended to the
hash-chained audit log with the count released and the SHA-256 of the file: never an NHS number.

Checks, in order (reason codes in ``DENIAL_REASONS``):

1. ``unknown_purpose``          the purpose is not in the register;
2. ``purpose_not_active``       expired, or not yet approved, on the request date;
3. ``cohort_not_permitted``     the purpose does not cover this cohort;
4. ``practice_not_permitted``   the practice (or its PCN) may not receive under this purpose;
5. ``requester_not_permitted``  the requester's role ("name, role") is not allowed, or no role given;
6. ``cohort_unavailable`` / ``cohort_stale``  no built cohort in the warehouse, or built longer ago
   than ``max_cohort_age_days`` (or a field the purpose releases is missing from the warehouse);
7. ``vault_key_unavailable``    the vault key (or the vault) cannot be read, or a key rotation is running;
8. ``opt_out_registers_unavailable``  the opt-out registers cannot be read: without them nothing flows;
9. ``vault_tamper``             a vault entry failed authentication (altered, moved or wrong key).

Warehouse contract (names in module constants so they can follow the cohort build):
``cohort_member(cohort_id, person_token, reason, built_at)``, ``risk_score(person_token, risk_score,
risk_tier)``, ``features(person_token, frailty_category, frailty_score, segment, ...)`` and
``person(person_token, practice_code, registration_end, death_month, ...)``; ``ref_practice`` gives the
practice's PCN.
"""

from __future__ import annotations

import csv
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
from core.files import private_dir, write_private
from core.layout import Home

from ..keys import KeyProvider, KeyProviderError
from ..vault import Vault, VaultError, VaultTamperError
from .audit import AuditLog, sha256_file
from .register import GovernanceRegister, Purpose, UnknownPurposeError

__all__ = [
    "COHORT_TABLE",
    "DENIAL_REASONS",
    "FEATURES_TABLE",
    "FIELD_SOURCES",
    "PERSON_TABLE",
    "PRACTICE_TABLE",
    "RISK_TABLE",
    "ReleaseOutcome",
    "audit_log_path",
    "outbox_dir",
    "release",
    "rotation_journal_path",
]

# --- warehouse contract (identifiers: allow-listed here, never taken from input) ------------------------
COHORT_TABLE: Final = "cohort_member"  # cohort_id, person_token, reason, built_at
RISK_TABLE: Final = "risk_score"  # person_token, risk_score, risk_tier
FEATURES_TABLE: Final = "features"  # person_token, frailty_category, frailty_score, segment
PERSON_TABLE: Final = "person"  # person_token, practice_code, registration_end, death_month
PRACTICE_TABLE: Final = "ref_practice"  # practice_code, pcn_code

#: Where each releasable field comes from: (table, column). ``nhs_number`` comes from the vault and
#: ``practice_ods`` is the receiving practice itself. ``segment`` is read from the risk table when it
#: has one, else from the features table.
FIELD_SOURCES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "reason": ((COHORT_TABLE, "reason"),),
    "risk_tier": ((RISK_TABLE, "risk_tier"),),
    "risk_score": ((RISK_TABLE, "risk_score"),),
    "segment": ((RISK_TABLE, "segment"), (FEATURES_TABLE, "segment")),
    "efi_category": ((FEATURES_TABLE, "frailty_category"),),
    "efi_score": ((FEATURES_TABLE, "frailty_score"),),
}

DENIAL_REASONS: Final[dict[str, str]] = {
    "unknown_purpose": "the purpose is not in the governance register",
    "purpose_not_active": "the purpose is not active on this date (expired or not yet approved)",
    "cohort_not_permitted": "this purpose does not permit this cohort",
    "practice_not_permitted": "this practice may not receive releases under this purpose",
    "requester_not_permitted": "the requester's role is not permitted for this purpose",
    "cohort_unavailable": "the cohort (or a field the purpose releases) is not in the warehouse",
    "cohort_stale": "the cohort was built longer ago than this purpose allows",
    "vault_key_unavailable": "the vault or its key is unavailable (or a key rotation is in progress)",
    "opt_out_registers_unavailable": "the opt-out registers cannot be read, so opt-outs cannot be re-checked",
    "vault_tamper": "a vault entry failed authentication; nothing was released",
    "output_exists": "an output file with this name already exists",
}

# Type 1 opt-outs bind every legal basis except direct care and the patient's own explicit consent
# (docs/governance.md, 'Legal bases and the National Data Opt-out').
_TYPE1_EXEMPT_BASES: Final = frozenset({"individual_care", "consent"})
_ODS_PRACTICE = re.compile(r"^[A-Z][0-9]{5}$")
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9 ,.'_()&/:+-]{1,200}$")
# The audit log refuses these anyway; checked first so a bad value is withheld, not a failed append.
_NHS_LIKE = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")
_WITHHELD = "(withheld: not a valid value)"


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


def audit_log_path(home: Home) -> Path:
    """The release audit log: ``HOME/identifiable/audit/release_audit.jsonl`` (folder 0700, file 0600)."""
    return home.identifiable / "audit" / "release_audit.jsonl"


def outbox_dir(home: Home) -> Path:
    """``HOME/outbox``: released lists, ``<purpose>/<practice>/<purpose>_<practice>_<stamp>.csv``."""
    return home.root / "outbox"


def rotation_journal_path(home: Home) -> Path:
    """Present while ``rotate_keys`` runs (or was interrupted); releases are refused meanwhile."""
    return home.identifiable / "key_rotation.json"


class _Denied(Exception):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _audit_text(value: object) -> str:
    """User-supplied text as recorded: withheld if it could hold an identifier or break the log."""
    if not isinstance(value, str) or not _SAFE_TEXT.fullmatch(value) or _NHS_LIKE.search(value):
        return _WITHHELD
    return value


def _role(requester: str) -> str:
    """The role in ``"name, role"``; empty when there is none."""
    name, sep, role = requester.rpartition(",")
    return role.strip() if sep and name.strip() else ""


def _table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(str(table), set()).add(str(column))
    return out


def open_warehouse(home: Home) -> duckdb.DuckDBPyConnection | None:
    """The published warehouse, read-only (None if there is none yet)."""
    if not home.warehouse.exists():
        return None
    con = duckdb.connect(str(home.warehouse), read_only=True)
    con.sql("SET python_enable_replacements=false")
    return con


def _pcn_of(con: duckdb.DuckDBPyConnection | None, columns: dict[str, set[str]], practice: str) -> str | None:
    if con is None or not {"practice_code", "pcn_code"} <= columns.get(PRACTICE_TABLE, set()):
        return None
    rows = con.sql(
        f"SELECT any_value(pcn_code) FROM {PRACTICE_TABLE} WHERE practice_code = $p",  # noqa: S608
        params={"p": practice},
    ).fetchall()
    return None if not rows or rows[0][0] is None else str(rows[0][0])


def _cohort_built_at(con: duckdb.DuckDBPyConnection, cohort: str) -> datetime | None:
    rows = con.sql(
        f"SELECT max(built_at) FROM {COHORT_TABLE} WHERE cohort_id = $c",  # noqa: S608
        params={"c": cohort},
    ).fetchall()
    value = rows[0][0] if rows else None
    return value if isinstance(value, datetime) else None


def _field_columns(columns: dict[str, set[str]], fields: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """(table, column) for each warehouse-sourced field; raises _Denied if the warehouse lacks one."""
    chosen: dict[str, tuple[str, str]] = {}
    for name in fields:
        if name not in FIELD_SOURCES:
            continue
        found = next((tc for tc in FIELD_SOURCES[name] if tc[1] in columns.get(tc[0], set())), None)
        if found is None:
            raise _Denied("cohort_unavailable", f"the warehouse has no source for field '{name}'")
        chosen[name] = found
    return chosen


def _members(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, set[str]],
    *,
    cohort: str,
    built_at: datetime,
    practice: str,
    on: date,
    fields: dict[str, tuple[str, str]],
) -> pl.DataFrame:
    """The cohort's latest build, restricted to people registered at ``practice`` now (alive)."""
    person_cols = columns.get(PERSON_TABLE, set())
    conditions = ["p.practice_code = $practice"]
    if "registration_end" in person_cols:
        conditions.append("(p.registration_end IS NULL OR p.registration_end >= $on)")
    if "death_month" in person_cols:
        conditions.append("p.death_month IS NULL")
    joins = {t for t, _ in fields.values() if t not in (COHORT_TABLE,)}
    select = ["m.person_token"]
    for name, (table, column) in fields.items():
        alias = {COHORT_TABLE: "m", RISK_TABLE: "r", FEATURES_TABLE: "f"}[table]
        select.append(f"{alias}.{column} AS {name}")
    join_sql = ""
    for table, alias in ((RISK_TABLE, "r"), (FEATURES_TABLE, "f")):
        if table in joins:  # one row per person, whatever the table holds
            one = f"SELECT * FROM {table} QUALIFY row_number() OVER (PARTITION BY person_token) = 1"  # noqa: S608
            join_sql += f" LEFT JOIN ({one}) {alias} USING (person_token)"
    # One row per person: several reasons for the same person are joined, in a stable order.
    query = f"""
        WITH m AS (
            SELECT c.person_token, string_agg(DISTINCT c.reason, '; ' ORDER BY c.reason) AS reason
            FROM {COHORT_TABLE} c
            JOIN {PERSON_TABLE} p ON p.person_token = c.person_token
            WHERE c.cohort_id = $cohort AND c.built_at = $built_at AND {" AND ".join(conditions)}
            GROUP BY c.person_token
        )
        SELECT {", ".join(select)} FROM m{join_sql} ORDER BY m.person_token
    """  # noqa: S608 - identifiers from the allow-lists above, values bound
    params: dict[str, object] = {"cohort": cohort, "built_at": built_at, "practice": practice}
    if "registration_end" in person_cols:
        params["on"] = on
    result = con.sql(query, params=params).pl()
    return result


def _remove_opt_outs(
    frame: pl.DataFrame, opt_outs: OptOuts, purpose: Purpose
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Drop people who opted out by a route that binds this purpose; counts per route."""
    routes: list[tuple[str, frozenset[str]]] = []
    if purpose.ndoo_applies:
        routes.append(("ndoo", opt_outs.ndoo))
    if purpose.legal_basis not in _TYPE1_EXEMPT_BASES:
        routes.append(("type1", opt_outs.type1))
    removed: dict[str, int] = {}
    for route, numbers in routes:
        hit = frame.get_column("nhs_number").is_in(pl.Series(list(numbers), dtype=pl.String).implode())
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


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def release(
    *,
    home: Home,
    landing: Path,
    register: GovernanceRegister,
    purpose: str,
    cohort: str,
    practice: str,
    requester: str,
    now: datetime,
    keys: KeyProvider,
) -> ReleaseOutcome:
    """Check a release request and, if every check passes, write the re-identified list to the outbox.

    ``now`` (timezone-aware) dates the request: purpose activity, cohort age, the file name and the
    audit entry. Returns a ``ReleaseOutcome`` either way; raises only if the audit log itself cannot be
    written (``AuditError``), in which case nothing is released.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    log = AuditLog(audit_log_path(home))
    audit_fields = {
        "requester": _audit_text(requester),
        "purpose": _audit_text(purpose),
        "cohort": _audit_text(cohort),
        "practice": _audit_text(practice),
    }
    con: duckdb.DuckDBPyConnection | None = None
    try:
        con = open_warehouse(home)
        return _checked_release(
            home, landing, register, purpose, cohort, practice, requester, now, keys, con, log, audit_fields
        )
    except _Denied as denied:
        entry = log.append(**audit_fields, outcome="denied", reason=denied.reason, count_released=0, time=now)
        message = DENIAL_REASONS[denied.reason] + (f" ({denied.detail})" if denied.detail else "")
        return ReleaseOutcome(False, denied.reason, message, audit_seq=entry.seq)
    finally:
        if con is not None:
            con.close()


def _checked_release(
    home: Home,
    landing: Path,
    register: GovernanceRegister,
    purpose_id: str,
    cohort: str,
    practice: str,
    requester: str,
    now: datetime,
    keys: KeyProvider,
    con: duckdb.DuckDBPyConnection | None,
    log: AuditLog,
    audit_fields: dict[str, str],
) -> ReleaseOutcome:
    today = now.astimezone(UTC).date()
    # 1-5: the register alone.
    try:
        purpose = register.purpose(purpose_id)
    except UnknownPurposeError:
        raise _Denied("unknown_purpose") from None
    if not purpose.is_active(today):
        detail = "expired" if today >= purpose.expires_on else "not yet approved"
        raise _Denied("purpose_not_active", detail)
    if not purpose.permits_cohort(cohort):
        raise _Denied("cohort_not_permitted")
    columns = _table_columns(con) if con is not None else {}
    if not _ODS_PRACTICE.fullmatch(practice) or not purpose.permits_recipient(
        practice, _pcn_of(con, columns, practice)
    ):
        raise _Denied("practice_not_permitted")
    role = _role(requester)
    if not role:
        raise _Denied("requester_not_permitted", "give the requester as 'name, role'")
    if not purpose.permits_requester(role):
        raise _Denied("requester_not_permitted")
    # 6: the cohort in the warehouse.
    needed = {COHORT_TABLE: {"cohort_id", "person_token", "reason", "built_at"}, PERSON_TABLE: {"person_token", "practice_code"}}  # fmt: skip
    if con is None or any(not cols <= columns.get(t, set()) for t, cols in needed.items()):
        raise _Denied("cohort_unavailable", "no warehouse, or its cohort tables are missing")
    built_at = _cohort_built_at(con, cohort)
    if built_at is None:
        raise _Denied("cohort_unavailable", "the cohort has not been built")
    built_on = (built_at.astimezone(UTC) if built_at.tzinfo else built_at).date()
    if not purpose.cohort_is_fresh(built_on, on=today):
        raise _Denied("cohort_stale", f"built {built_on}, allowed {purpose.max_cohort_age_days} days")
    fields = _field_columns(columns, purpose.fields)
    members = _members(
        con, columns, cohort=cohort, built_at=built_at, practice=practice, on=today, fields=fields
    )
    # 7: the vault key, read only now that everything else allows the release.
    if rotation_journal_path(home).exists():
        raise _Denied("vault_key_unavailable", "a key rotation is in progress")
    try:
        vault_key = keys.vault_key()
    except KeyProviderError:
        raise _Denied("vault_key_unavailable") from None
    # 8: opt-outs as they stand now.
    try:
        opt_outs = load_opt_outs(landing)
    except (ExtractFileError, OSError):
        raise _Denied("opt_out_registers_unavailable") from None
    # 9: re-identify.
    tokens = members.get_column("person_token")
    try:
        with Vault.open(home.vault, vault_key, read_only=True) as vault:
            numbers = vault.reidentify(tokens)
    except VaultTamperError:
        raise _Denied("vault_tamper") from None
    except (VaultError, KeyProviderError, duckdb.Error):
        raise _Denied("vault_key_unavailable", "the vault cannot be opened with the current key") from None
    lookup = pl.DataFrame(
        {"person_token": list(numbers), "nhs_number": list(numbers.values())},
        schema={"person_token": pl.String, "nhs_number": pl.String},
    )
    found = members.join(lookup, on="person_token", how="inner")
    not_in_vault = members.height - found.height
    kept, removed = _remove_opt_outs(found, opt_outs, purpose)
    kept = kept.with_columns(pl.lit(practice).alias("practice_ods")).sort("nhs_number")
    data = _csv_bytes(kept, purpose.fields)

    folder = private_dir(private_dir(private_dir(outbox_dir(home)) / purpose.id) / practice)
    path = folder / f"{purpose.id}_{practice}_{_stamp(now)}.csv"
    try:
        write_private(path, data)  # never overwrites: an existing release stays as it was
    except FileExistsError:
        raise _Denied("output_exists") from None
    try:
        digest = sha256_file(path)
        entry = log.append(
            **audit_fields,
            outcome="granted",
            count_released=kept.height,
            output_sha256=digest,
            time=now,
        )
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
        not_in_vault=not_in_vault,
    )
