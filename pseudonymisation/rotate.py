"""Key rotation: a new token key and vault key version, every token re-derived, the vault re-encrypted.

Procedure (docs/runbook_keys.md is the operator's version):

1. **Prepare** (nothing visible changes). Write ``token_key_v{n+1}.key`` / ``vault_key_v{n+1}.key``
   (0600) beside the current keys; decrypt every vault entry with vault key *n*; tokenise each NHS number
   with token key *n+1*: that is the map old token -> new token. Pseudo-IDs (``U{n}-``, people with no
   NHS number, so no vault entry) map to ``U{n+1}-HMAC(new pseudo key, old id)``, keeping them joinable
   (the next full load re-derives them from the source-local id). Build, beside the live files: a new
   vault holding only the new entries under vault key *n+1*, each pseudonymised staged parquet with its
   ``person_token`` rewritten, and a copy of the warehouse with every ``person_token`` column rewritten.
   Each is checked to hold no token of version *n*.
2. **Commit**. The journal (``HOME/identifiable/key_rotation.json``) records the list of files to swap,
   then each is renamed over the live one (atomic per file), ``current_version`` becomes *n+1*, and the
   version-*n* key files move to ``keys/retired/`` where no ``KeyProvider`` looks. Old tokens no longer
   resolve: their vault rows are gone and their key is retired. The cohort stage's parquet
   (``HOME/cohort/``) is rewritten like the staged files, and the load's token map is deleted.
3. The journal is removed. (Afterwards, once the operator has checked the rotation,
   ``phm keys retire --confirm`` (``retire.py``) verifies that no file of the home holds a version-*n*
   token and destroys the retired keys.) While the journal exists, releases are refused and ``rotate_keys`` resumes: an
   interrupted commit is completed, an interrupted preparation is discarded and redone.

Rotation runs in a maintenance window: no pipeline run, release or extract at the same time.
Only key *directories* can be rotated here (dev keys or ``KeyProvider.from_directory``); keys from the
environment are rotated in the secret store (runbook).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core.errors import Refused
from core.files import private_dir, write_private
from core.layout import Home

from .keys import KEY_BYTES, KeyProvider, KeyUnavailableError
from .tokens import Tokeniser
from .vault import Vault, VaultError

__all__ = ["TOKEN_COLUMNS", "RotationError", "RotationResult", "new_key_version", "rotate_keys"]

#: Columns that hold person tokens, in staged parquet and in every warehouse table.
TOKEN_COLUMNS: tuple[str, ...] = ("person_token",)
_PSEUDO_NAMESPACE = "rotation"
_STAGE = "_phm_rotation_map"


class RotationError(Refused):
    """Rotation was refused or could not complete. Messages name files and counts, never values."""


@dataclass(frozen=True)
class RotationResult:
    old_version: int
    new_version: int
    tokens: int  # person tokens re-derived (= vault entries)
    pseudo_ids: int  # pseudo-IDs re-derived
    staged_files: int
    warehouse_tables: int
    resumed: bool = False


def new_key_version(keys_dir: Path, version: int) -> None:
    """Write fresh random ``token_key_v{version}.key`` and ``vault_key_v{version}.key`` (0600), unless present.

    ``current_version`` is not touched: the new keys are used only once the rotation commits.
    """
    import base64

    if stat.S_IMODE(keys_dir.stat().st_mode) & 0o077:
        raise RotationError(f"key folder {keys_dir} is readable by group/others; chmod 700 it")
    for purpose in ("token", "vault"):
        path = keys_dir / f"{purpose}_key_v{version}.key"
        if not path.exists():
            write_private(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")


def _journal(home: Home) -> dict[str, Any] | None:
    path = home.rotation_journal
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _save_journal(home: Home, data: dict[str, Any]) -> None:
    write_private(home.rotation_journal, json.dumps(data, sort_keys=True).encode(), replace=True)


def _all_vault_tokens(vault_file: Path) -> list[str]:
    con = duckdb.connect(str(vault_file), read_only=True)
    try:
        return [str(t) for (t,) in con.sql("SELECT token FROM vault ORDER BY token").fetchall()]
    finally:
        con.close()


def _no_wal(path: Path) -> None:
    if Path(f"{path}.wal").exists():
        raise RotationError(f"{path.name} has a write-ahead log: a writer is open or crashed; close it first")


def _token_map(vault_file: Path, keys: KeyProvider, old: int, new: int) -> pl.DataFrame:
    """old token -> new token for every vault entry (decrypted with the old key, tokenised with the new)."""
    tokens = _all_vault_tokens(vault_file)
    with Vault.open(vault_file, keys.vault_key(old), read_only=True) as vault:
        numbers = vault.reidentify(tokens)
    if len(numbers) != len(tokens):
        raise RotationError(f"{len(tokens) - len(numbers)} vault entries could not be read")
    frame = pl.DataFrame(
        {"old": list(numbers), "nhs_number": list(numbers.values())},
        schema={"old": pl.String, "nhs_number": pl.String},
    )
    stale = frame.filter(~pl.col("old").str.starts_with(f"P{old}-")).height
    if stale:
        raise RotationError(f"{stale} vault entries carry tokens of another key version; fix before rotating")
    return frame.with_columns(new=Tokeniser(keys.token_key(new)).tokenise(frame["nhs_number"]))


def _full_map(person: pl.DataFrame, pseudo_ids: pl.Series, keys: KeyProvider, new: int) -> pl.DataFrame:
    mapped_pseudo = Tokeniser(keys.token_key(new)).pseudo_id(_PSEUDO_NAMESPACE, pseudo_ids)
    return pl.concat(
        [
            person.select("old", "new"),
            pl.DataFrame({"old": pseudo_ids, "new": mapped_pseudo}),
        ]
    ).unique("old", maintain_order=True)


def _rewrite_frame(frame: pl.DataFrame, mapping: pl.DataFrame, old: int, where: str) -> pl.DataFrame:
    for column in TOKEN_COLUMNS:
        if column not in frame.columns:
            continue
        joined = frame.select(pl.col(column).alias("old")).join(
            mapping, on="old", how="left", maintain_order="left"
        )
        unmapped = joined.filter(pl.col("old").is_not_null() & pl.col("new").is_null()).height
        if unmapped:
            raise RotationError(
                f"{where}: {unmapped} token(s) in {column} have no vault entry or pseudo-ID map"
            )
        frame = frame.with_columns(joined["new"].alias(column))
    return frame


def _pseudo_ids_in(staged: list[Path], warehouse: Path, old: int) -> pl.Series:
    prefix = f"U{old}-"
    found: set[str] = set()
    for path in staged:
        scan = pl.scan_parquet(path)
        for column in set(TOKEN_COLUMNS) & set(scan.collect_schema().names()):
            ids = scan.select(column).filter(pl.col(column).str.starts_with(prefix)).unique().collect()
            found |= set(ids[column].to_list())
    if warehouse.exists():
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            for table, column in _token_columns(con):
                rows = con.sql(
                    f'SELECT DISTINCT "{column}" FROM "{table}" WHERE starts_with("{column}", $p)',  # noqa: S608
                    params={"p": prefix},
                ).fetchall()
                found |= {str(v) for (v,) in rows}
        finally:
            con.close()
    return pl.Series(sorted(found), dtype=pl.String)


def _token_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = con.sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND data_type = 'VARCHAR' ORDER BY table_name, column_name"
    ).fetchall()
    return [(str(t), str(c)) for t, c in rows if c in TOKEN_COLUMNS]


def _rewrite_warehouse(src: Path, dst: Path, mapping: pl.DataFrame, old: int) -> int:
    shutil.copyfile(src, dst)
    con = duckdb.connect(str(dst))
    try:
        con.sql("SET python_enable_replacements=false")
        con.register(_STAGE, mapping.select("old", "new").to_arrow())
        columns = _token_columns(con)
        for table, column in columns:
            con.sql(
                f'UPDATE "{table}" AS t SET "{column}" = m.new FROM {_STAGE} AS m WHERE t."{column}" = m.old'  # noqa: S608
            )
        con.unregister(_STAGE)
        # Any text column still holding a version-n token means something was missed: refuse.
        text_cols = con.sql(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in text_cols:
            (left,) = con.sql(
                f'SELECT count(*) FROM "{table}" WHERE regexp_matches("{column}", $p)',  # noqa: S608
                params={"p": f"^[PU]{old}-[0-9a-f]{{32}}$"},
            ).fetchall()[0]
            if left:
                raise RotationError(
                    f"warehouse {table}.{column}: {left} value(s) still hold version-{old} tokens"
                )
        con.sql("CHECKPOINT")
    finally:
        con.close()
    return len({t for t, _ in columns})


def _prepare(
    home: Home, keys: KeyProvider, keys_dir: Path, old: int, new: int
) -> tuple[list[list[str]], dict[str, int]]:
    """Build every new file beside its live one; return [tmp, live] pairs and counts."""
    new_key_version(keys_dir, new)
    for path in (home.vault, home.warehouse):
        _no_wal(path)
    if not home.vault.exists():
        raise RotationError(f"no vault at {home.vault}: nothing to rotate")
    person = _token_map(home.vault, keys, old, new)
    # Derived files (cohort features, scores, lists, aggregates) hold tokens too: they are rewritten
    # like the staged files, so no version-n token outlives the rotation (issue #14).
    staged = sorted(home.pseudo_staged_dir.glob("*/*.parquet")) + sorted(home.cohort_dir.rglob("*.parquet"))
    pseudo_ids = _pseudo_ids_in(staged, home.warehouse, old)
    mapping = _full_map(person, pseudo_ids, keys, new)
    pairs: list[list[str]] = []

    vault_tmp = home.vault.with_name(f"vault.v{new}.rotating.duckdb")
    vault_tmp.unlink(missing_ok=True)
    with Vault.open(vault_tmp, keys.vault_key(new)) as vault:
        vault.put_many(person["new"], person["nhs_number"])
    pairs.append([str(vault_tmp), str(home.vault)])

    for path in staged:
        frame = _rewrite_frame(pl.read_parquet(path), mapping, old, path.name)
        tmp = path.with_name(f".{path.name}.v{new}.rotating")
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        pairs.append([str(tmp), str(path)])

    tables = 0
    if home.warehouse.exists():
        wh_tmp = home.warehouse.with_name(f"warehouse.v{new}.rotating.duckdb")
        wh_tmp.unlink(missing_ok=True)
        tables = _rewrite_warehouse(home.warehouse, wh_tmp, mapping, old)
        pairs.append([str(wh_tmp), str(home.warehouse)])
    counts = {
        "tokens": person.height,
        "pseudo_ids": pseudo_ids.len(),
        "staged_files": len(staged),
        "warehouse_tables": tables,
    }
    return pairs, counts


def _commit(home: Home, keys_dir: Path, journal: dict[str, Any]) -> None:
    for tmp, live in journal["pairs"]:
        if Path(tmp).exists():
            os.replace(tmp, live)
    old, new = int(journal["old"]), int(journal["new"])
    write_private(keys_dir / "current_version", f"{new}\n".encode("ascii"), replace=True)
    # The load's token map pairs NHS numbers with version-n tokens in the clear: once the old keys
    # retire it must go too (the next load rebuilds it with the new key).
    home.token_map.unlink(missing_ok=True)
    retired = private_dir(keys_dir / "retired")
    for purpose in ("token", "vault"):
        path = keys_dir / f"{purpose}_key_v{old}.key"
        if path.exists():
            os.replace(path, retired / path.name)


def _discard(home: Home, new: int) -> None:
    """Remove the half-built files of an abandoned preparation (their names carry the new version)."""
    leftovers = [
        *home.vault.parent.glob(f"vault.v{new}.rotating.duckdb*"),
        *home.pseudo_staged_dir.glob(f"*/.*.v{new}.rotating"),
        *home.cohort_dir.rglob(f".*.v{new}.rotating"),
        *home.warehouse.parent.glob(f"warehouse.v{new}.rotating.duckdb*"),
    ]
    for path in leftovers:
        path.unlink(missing_ok=True)


def rotate_keys(home: Home, keys_dir: Path, *, now: datetime | None = None) -> RotationResult:
    """Rotate the token and vault keys in ``keys_dir`` for this installation (see the module docstring)."""
    started = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
    journal = _journal(home)
    if journal is not None and journal.get("stage") == "committing":
        _commit(home, keys_dir, journal)
        home.rotation_journal.unlink()
        c = journal["counts"]
        return RotationResult(int(journal["old"]), int(journal["new"]), resumed=True, **c)
    if journal is not None:
        _discard(home, int(journal["new"]))
    provider = KeyProvider.from_directory(keys_dir)
    try:
        old = provider.current_version()
        provider.token_key(old)
        provider.vault_key(old)
    except KeyUnavailableError as exc:
        raise RotationError(f"the current keys cannot be read: {exc}") from None
    new = old + 1
    _save_journal(home, {"stage": "preparing", "old": old, "new": new, "started": started, "pairs": []})
    try:
        pairs, counts = _prepare(home, provider, keys_dir, old, new)
    except (RotationError, VaultError, KeyUnavailableError, duckdb.Error, pl.exceptions.PolarsError):
        _discard(home, new)
        home.rotation_journal.unlink(missing_ok=True)
        raise
    journal = {"stage": "preparing", "old": old, "new": new, "started": started, "pairs": pairs}
    _save_journal(home, journal)  # the temp files are known before anything is swapped
    journal["stage"] = "committing"
    journal["counts"] = counts
    _save_journal(home, journal)
    _commit(home, keys_dir, journal)
    home.rotation_journal.unlink()
    return RotationResult(
        old,
        new,
        tokens=counts["tokens"],
        pseudo_ids=counts["pseudo_ids"],
        staged_files=counts["staged_files"],
        warehouse_tables=counts["warehouse_tables"],
    )
