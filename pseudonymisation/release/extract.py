"""Pseudonymised extracts for an outside recipient, with tokens that belong to that recipient only.

Why derive from the warehouse token, not the NHS number: the recipient token is
``E{v}-`` + first 128 bits of HMAC-SHA256(recipient key, warehouse token), where the recipient key is
HKDF-SHA256(token master key, info ``phm-extract|{purpose}|{domain}|v{v}``). The warehouse token is already
a keyed function of the NHS number, so the recipient token is too, but making it needs **only the token
key**: the vault key (the way back to NHS numbers) is never read to build an extract. Each recipient
domain and purpose gets an independent key, so their tokens share nothing and cannot be joined with each
other or with the warehouse; only the master token key holder can link them. Rotating the token key
changes every recipient token (new extracts cannot be joined to old ones).

k-anonymity: tokens alone do not stop a join on the other columns (two recipients' extracts of one
cohort joined on age band, sex, IMD and a 4-d.p. risk score matched 52 of 52 rows). So the rows are
generalised (`generalise`: one coding for the whole file, from 10-year age bands down to the risk
tier alone, or to the coarsest level the purpose accepts, ``extract_coarsest_level``) until every
combination of the non-token columns is shared by at least ``min_k`` rows (default 5, never less);
risk scores leave only as bands. An extract that cannot reach ``min_k`` with a coding that still
carries information (a cohort smaller than it, or too varied for the coarsest allowed level) is
refused (``k_anonymity_unreachable``, naming the level tried and its smallest class size) and audited
like any refusal: never a file of bare tokens.
Rows are in recipient-token order, which says nothing about the warehouse's order.

Opt-outs: an extract for an outside recipient is a use beyond individual care, so the National Data
Opt-out and Type 1 opt-outs both apply. They are re-checked now against the registers in landing,
tokenised with the warehouse key (again, no vault key needed).

Governed like a release: the request names a purpose from the installed, signed governance bundle
that permits this cohort and this recipient domain (``recipients.domains``), and a registered, active
user whose RBAC role the purpose permits. Every attempt, written or refused, is appended to the audit
log (event ``extract``) with the user, the OS account, the bundle's hash, the row count and the
SHA-256 of the extract file; a broken audit log refuses the extract.

Output (files 0600 in a 0700 folder), default ``HOME/extracts/<domain>/<domain>_<cohort>_<stamp>.csv``:
one row per person (recipient token and the generalised ``QUASI_IDENTIFIERS``), plus
``...aggregates.csv``: people by age band and risk tier under disclosure control
(``core.disclosure.protect_table``: 1-7 suppressed, rounded to 5, secondary suppression).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import duckdb
import polars as pl

from connectors.errors import ExtractFileError
from connectors.optouts import load_opt_outs
from core.disclosure import protect_table
from core.errors import Refused
from core.files import private_dir, write_private
from core.layout import Home

from ..keys import KeyProvider
from ..tokens import _DOMAIN_RE, Tokeniser, _derive, _map_distinct  # one keyed-hash scheme
from .audit import AuditLog, Subject, recorded_id
from .generalise import DEFAULT_K, QUASI_IDENTIFIERS, KNotReached, LevelName, generalise, smallest_class
from .members import COHORT_TABLE, PERSON_TABLE, RISK_TABLE, Denied, open_warehouse
from .release import DENIAL_REASONS, check_purpose, check_user, governance_in_force

__all__ = ["EXTRACT_COLUMNS", "ExtractError", "ExtractOutcome", "domain_tokens", "extract"]

_UNREACHABLE: Final = "k_anonymity_unreachable"

_COHORT_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")

#: (table, column, name): what an extract is built from besides the token, before `generalise` codes
#: it. No practice, no LSOA, no birth month: the age band is computed from the birth year and dropped.
EXTRACT_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    (PERSON_TABLE, "sex", "sex"),
    (PERSON_TABLE, "imd_decile", "imd_decile"),
    (RISK_TABLE, "risk_tier", "risk_tier"),
    (RISK_TABLE, "risk_score", "risk_score"),
)


class ExtractError(Refused):
    """The extract was refused; ``reason`` is the code recorded in the audit log."""

    def __init__(self, message: str, reason: str = "extract_refused") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ExtractOutcome:
    path: Path
    aggregates_path: Path
    rows: int
    removed_opt_out: int
    audit_seq: int = 0
    k: int = 0  # the smallest class of the written extract (at least the min_k asked for)
    level: str = ""  # the generalisation level used (`generalise.LADDER`)


def domain_tokens(warehouse_tokens: pl.Series, keys: KeyProvider, domain: str, purpose: str) -> pl.Series:
    """``E{v}-{hex}`` tokens for one recipient domain and purpose from warehouse tokens (token key only):
    the same HKDF + truncated HMAC-SHA256 as person tokens, under the key labelled
    ``phm-extract|{purpose}|{domain}|v{v}``."""
    if not _DOMAIN_RE.fullmatch(domain):
        raise ExtractError("domain must match [a-z][a-z0-9_-]{0,63}")
    if not _ID_RE.fullmatch(purpose):
        raise ExtractError("purpose must be a purpose id like 'research-extract'")
    key = keys.token_key()
    secret = _derive(key.material, f"extract|{purpose}", domain, key.version)
    return _map_distinct(warehouse_tokens, secret, f"E{key.version}-").rename("domain_token")


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in con.sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall():
        out.setdefault(str(table), set()).add(str(column))
    return out


def _cohort_frame(con: duckdb.DuckDBPyConnection, cohort: str) -> pl.DataFrame:
    cols = _columns(con)
    if "person_token" not in cols.get(COHORT_TABLE, set()):
        raise ExtractError(f"the warehouse has no {COHORT_TABLE} table", "cohort_unavailable")
    select = ["m.person_token"]
    for table, column, name in EXTRACT_COLUMNS:
        alias = {PERSON_TABLE: "p", RISK_TABLE: "r"}[table]
        if column in cols.get(table, set()):
            select.append(f"{alias}.{column} AS {name}")
    if "birth_year_month" in cols.get(PERSON_TABLE, set()):
        select.append("p.birth_year_month")
    risk_join = (
        f" LEFT JOIN (SELECT * FROM {RISK_TABLE} QUALIFY row_number() OVER (PARTITION BY person_token) = 1) r"  # noqa: S608
        " USING (person_token)"
        if "person_token" in cols.get(RISK_TABLE, set())
        else ""
    )
    query = f"""
        WITH m AS (
            SELECT DISTINCT person_token FROM {COHORT_TABLE}
            WHERE cohort_id = $c AND built_at = (SELECT max(built_at) FROM {COHORT_TABLE} WHERE cohort_id = $c)
        )
        SELECT {", ".join(select)} FROM m LEFT JOIN {PERSON_TABLE} p USING (person_token){risk_join}
        ORDER BY m.person_token
    """  # noqa: S608 - identifiers from allow-lists, values bound
    frame = con.sql(query, params={"c": cohort}).pl()
    if frame.height == 0:
        raise ExtractError(f"cohort '{cohort}' has no members in the warehouse", "cohort_unavailable")
    return frame


def extract(
    *,
    home: Home,
    landing: Path,
    purpose: str,
    user: str,
    domain: str,
    cohort: str,
    keys: KeyProvider,
    now: datetime,
    out: Path | None = None,
    min_k: int = DEFAULT_K,
) -> ExtractOutcome:
    """Write a recipient-tokenised, opt-out-checked, k-anonymous (``min_k``) extract of ``cohort`` and
    its protected aggregates, if the installed governance permits it; audited either way
    (``ExtractError`` when refused)."""
    if min_k < DEFAULT_K:
        raise ValueError(f"min_k must be at least {DEFAULT_K}")
    log = AuditLog.for_home(home, keys)
    log.head()  # a broken audit log refuses the extract before anything is read
    audit: Subject = {
        "user": recorded_id(user, _ID_RE),
        "purpose": recorded_id(purpose, _ID_RE),
        "cohort": recorded_id(cohort, _COHORT_RE),
        "practice": None,
    }
    register_sha: str | None = None
    try:
        governance = governance_in_force(home)
        register_sha = governance.sha256
        today = now.astimezone(UTC).date()
        approved = check_purpose(governance, purpose, cohort, today)
        if not approved.permits_domain(domain):
            raise Denied("domain_not_permitted")
        check_user(governance, user, approved, today)
        outcome = _write_extract(
            home, landing, (domain, purpose, cohort), keys, now, out, (min_k, approved.extract_coarsest_level)
        )
    except Denied as denied:
        log.append(event="extract", outcome="denied", reason=denied.reason, register_sha256=register_sha, time=now, **audit)  # fmt: skip
        raise ExtractError(f"{DENIAL_REASONS[denied.reason]} ({denied.reason})", denied.reason) from None
    except ExtractError as exc:
        log.append(event="extract", outcome="denied", reason=exc.reason, register_sha256=register_sha, time=now, **audit)  # fmt: skip
        raise
    digest = hashlib.sha256(outcome.path.read_bytes()).hexdigest()
    entry = log.append(event="extract", outcome="granted", count_released=outcome.rows, output_sha256=digest, register_sha256=register_sha, time=now, **audit)  # fmt: skip
    return ExtractOutcome(
        outcome.path, outcome.aggregates_path, outcome.rows, outcome.removed_opt_out, entry.seq,
        outcome.k, outcome.level,
    )  # fmt: skip


def _write_extract(
    home: Home,
    landing: Path,
    request: tuple[str, str, str],
    keys: KeyProvider,
    now: datetime,
    out: Path | None,
    anonymity: tuple[int, LevelName | None],
) -> ExtractOutcome:
    domain, purpose, cohort = request
    min_k, coarsest = anonymity
    if not _DOMAIN_RE.fullmatch(domain):
        raise ExtractError("domain must match [a-z][a-z0-9_-]{0,63}", "bad_request")
    if not _COHORT_RE.fullmatch(cohort):
        raise ExtractError("cohort must be a cohort id like 'diabetes_no_hba1c_12m'", "bad_request")
    con = open_warehouse(home)
    if con is None:
        raise ExtractError(f"no warehouse at {home.warehouse}", "cohort_unavailable")
    try:
        frame = _cohort_frame(con, cohort)
    finally:
        con.close()
    # Opt-outs now: tokenise the registers with the warehouse key and drop those people.
    try:
        opt_outs = load_opt_outs(landing)
    except (ExtractFileError, OSError):
        raise ExtractError("the opt-out registers cannot be read", "opt_out_registers_unavailable") from None
    numbers = pl.Series(sorted(opt_outs.ndoo | opt_outs.type1), dtype=pl.String)
    opted_tokens = Tokeniser(keys.token_key()).tokenise(numbers)
    kept = frame.filter(~pl.col("person_token").is_in(opted_tokens.implode()))
    removed = frame.height - kept.height
    try:
        coded, level = generalise(kept, k=min_k, now=now, coarsest=coarsest)
    except KNotReached as short:
        raise ExtractError(
            f"k >= {min_k} cannot be reached with a useful coding: at the coarsest allowed level "
            f"({short.level.name}) the smallest class has {short.smallest} of {kept.height} people after opt-outs",
            _UNREACHABLE,
        ) from None
    kept = coded.with_columns(domain_tokens(coded["person_token"], keys, domain, purpose)).drop(
        "person_token"
    )
    kept = kept.select("domain_token", *QUASI_IDENTIFIERS).sort("domain_token")

    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if out is None:
        path = private_dir(home.extracts(domain)) / f"{domain}_{cohort}_{stamp}.csv"
    elif out.parent.is_dir():
        path = out  # the caller's folder: its permissions are theirs to set, never changed here
    else:
        raise ExtractError(f"no folder {out.parent} to write the extract into", "bad_request")
    aggregates_path = path.with_name(path.stem + ".aggregates.csv")
    try:
        write_private(path, kept.write_csv().encode("utf-8"))
    except FileExistsError:
        raise ExtractError(f"{path} already exists", "output_exists") from None
    group = ["age_band", "risk_tier"]
    counts = kept.group_by(group).agg(pl.len().cast(pl.Int64).alias("people")).sort(group)
    protected = protect_table(counts, group, count_col="people").select(*group, "people_display", "total")
    write_private(aggregates_path, protected.write_csv().encode("utf-8"))
    return ExtractOutcome(path, aggregates_path, kept.height, removed, 0, smallest_class(kept), level.name)
