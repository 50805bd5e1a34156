"""`phm release`, `phm open-list`, `phm audit verify`, `phm keys rotate`, `phm extract`, `phm transparency`.

Mounted by `phm/cli.py` with ``register_commands(app)`` (the `phm governance` group is in
`phm/governance_cli.py`). Environment is read here, at the entry point: keys come from
``PHM_TOKEN_KEY`` / ``PHM_VAULT_KEY`` / ``PHM_AUDIT_KEY`` when any is set, else from the key folder
(``--keys``, default ``HOME/identifiable/keys``). These commands never *generate* keys: a missing vault
key is a denial, a missing audit key a refusal. Releases and extracts use only the governance bundle
installed in the home (no ``--register``: a caller's own register is never honoured) and name a user
from its users register. Output is counts, codes and paths only; errors are one line on stderr.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import Refused, UsageError
from core.layout import DEFAULT_DATA, DEFAULT_HOME, Home

if TYPE_CHECKING:
    from pseudonymisation import KeyProvider

__all__ = ["key_dir", "provider", "register_commands"]

HomeOpt = Annotated[
    Path, typer.Option("--home", help="Installation home: warehouse, vault, keys, audit log.")
]
DataOpt = Annotated[Path, typer.Option("--data", help="Folder holding landing/ (registers are re-read now).")]
KeysOpt = Annotated[Path | None, typer.Option("--keys", help="Key folder (default HOME/identifiable/keys).")]
UserOpt = Annotated[str, typer.Option("--user", help="Your id in the installed users register.")]
_ENV_KEYS = ("PHM_TOKEN_KEY", "PHM_VAULT_KEY", "PHM_AUDIT_KEY")


def key_dir(home: Home, keys_dir: Path | None) -> Path | None:
    """The key folder in use, or None when keys come from the environment."""
    return None if any(k in os.environ for k in _ENV_KEYS) else (keys_dir or home.keys)


def provider(home: Home, keys_dir: Path | None) -> KeyProvider:
    from pseudonymisation import KeyProvider

    folder = key_dir(home, keys_dir)
    return KeyProvider.from_env(os.environ) if folder is None else KeyProvider.from_directory(folder)


def _installed_sha(home: Home) -> str | None:
    from pseudonymisation.release.bundle import GovernanceError, load_installed

    try:
        return load_installed(home).sha256
    except GovernanceError:
        return None


def audit_for_keys(h: Home, keys: Path | None, action: str) -> tuple[Any, str | None]:
    """The audit log a key command appends to (its chain checked first) and the installed bundle's hash;
    refused, naming `action`, when the log cannot be used."""
    from pseudonymisation.release import AuditError, AuditLog

    try:
        log = AuditLog.for_home(h, provider(h, keys))
        log.head()
    except AuditError as exc:
        raise Refused(f"{action} refused, the audit log cannot be used: {exc}") from None
    return log, _installed_sha(h)


def _publish_report(home: Home, keys: KeyProvider) -> None:
    """Rewrite the transparency report after a governed act, so the audit head it publishes is the
    latest. A report that cannot be written never changes the act's outcome (the head file already
    holds the head); the next `phm transparency` or load says why."""
    import duckdb

    from pseudonymisation.release.bundle import GovernanceError, load_installed
    from pseudonymisation.release.transparency import write_report

    try:
        write_report(home, load_installed(home), keys, now=datetime.now(UTC))
    except (GovernanceError, OSError, duckdb.Error):
        return


def register_commands(app: typer.Typer) -> None:
    """Add the governed-release commands (and the `audit` and `keys` groups) to the `phm` app."""
    audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
    keys_app = typer.Typer(help="Token and vault keys.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    from phm.keys_cli import register_commands as register_keys_commands

    register_keys_commands(app, keys_app)

    @app.command("release")
    def release_cmd(
        purpose: Annotated[str, typer.Option("--purpose", help="Purpose id from the governance register.")],
        cohort: Annotated[str, typer.Option("--cohort", help="Cohort id.")],
        practice: Annotated[str, typer.Option("--practice", help="Receiving practice ODS code.")],
        user: UserOpt,
        home: HomeOpt = DEFAULT_HOME,
        data: DataOpt = DEFAULT_DATA,
        keys: KeysOpt = None,
    ) -> None:
        """Release a re-identified cohort list, sealed to the practice's key, under an approved purpose (audited)."""
        from pseudonymisation.release import AuditError
        from pseudonymisation.release.release import release

        h = Home(home.resolve())
        key_provider = provider(h, keys)
        try:
            outcome = release(home=h, landing=data / "landing", purpose=purpose, cohort=cohort,
                              practice=practice, user=user, now=datetime.now(UTC), keys=key_provider)  # fmt: skip
        except AuditError as exc:
            raise Refused(f"release refused, the audit log cannot be used: {exc}") from None
        _publish_report(h, key_provider)
        if not outcome.granted:
            raise Refused(
                f"release denied ({outcome.reason}): {outcome.message} [audit seq {outcome.audit_seq}]"
            )
        removed = ", ".join(f"{k} {v}" for k, v in outcome.removed_by_route.items()) or "none"
        typer.echo(
            f"released {outcome.count_released} patient(s) to {outcome.path} "
            f"(opt-outs removed: {removed}; not in vault: {outcome.not_in_vault}; audit seq {outcome.audit_seq})"
        )

    @app.command("open-list")
    def open_list_cmd(
        file: Annotated[Path, typer.Argument(help="A sealed list (.csv.hpke) from the outbox.")],
        key: Annotated[Path, typer.Option("--key", help="The receiving practice's private key file.")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the CSV here (0600) instead of to stdout.")
        ] = None,
    ) -> None:
        """At the practice: decrypt a sealed list with the practice's own key, for the clinician; with
        --out, an HTML worklist (OUT with .html) is written beside the CSV."""
        from core.files import write_private
        from pseudonymisation.release.sealing import open_list
        from pseudonymisation.release.worklist import worklist_path, write_worklist

        opened = open_list(file, key)
        if out is None:
            sys.stdout.buffer.write(opened.plaintext)  # the clinician's own terminal: the list is for them
            return
        page = worklist_path(out)
        if page == out:
            raise UsageError(
                f"--out {out}: name the CSV (e.g. list.csv); the worklist is written beside it as .html"
            )
        if page.exists():
            raise Refused(f"{page} already exists")
        try:
            write_private(out, opened.plaintext)
        except FileExistsError:
            raise Refused(f"{out} already exists") from None
        write_worklist(opened, out)
        typer.echo(
            f"opened the list for practice {opened.practice} ({opened.purpose}) into {out} (worklist {page})"
        )

    @audit_app.command("verify")
    def audit_verify(
        home: HomeOpt = DEFAULT_HOME,
        keys: KeysOpt = None,
        anchor: Annotated[
            list[str] | None,
            typer.Option(
                "--anchor", help="A head 'seq:mac' published elsewhere, e.g. in a transparency report."
            ),
        ] = None,
    ) -> None:
        """Check the audit log's keyed chain against its published head file (and any anchors); exit 1 if not."""
        from pseudonymisation.release import AuditError, AuditLog, Head

        try:
            anchors = [Head.parse(a) for a in anchor or []]
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        h = Home(home.resolve())
        try:
            result = AuditLog.for_home(h, provider(h, keys)).verify(anchors)
        except AuditError as exc:
            raise Refused(f"audit log FAILED: {exc}") from None
        if not result.ok:
            raise Refused(f"audit log FAILED at entry {result.first_bad_seq}: {result.problem}")
        typer.echo(f"audit log OK: {result.entries} entries, head {result.head} ({h.audit_log})")

    @keys_app.command("rotate")
    def keys_rotate(home: HomeOpt = DEFAULT_HOME, keys: KeysOpt = None) -> None:
        """New key version; re-tokenise, re-encrypt the vault, rewrite staged + warehouse; retire old keys (audited)."""
        from pseudonymisation.keys import KeyUnavailableError
        from pseudonymisation.rotate import RotationError, rotate_keys

        h = Home(home.resolve())
        if key_dir(h, keys) is None:
            raise Refused("keys from the environment are rotated in the secret store (docs/runbook_keys.md)")
        log, sha = audit_for_keys(h, keys, "key rotation")
        try:
            result = rotate_keys(h, keys or h.keys)
        except (RotationError, KeyUnavailableError) as exc:
            log.append(event="key_rotation", outcome="denied", reason="rotation_refused", register_sha256=sha)
            raise Refused(f"key rotation refused: {exc}") from None
        entry = log.append(event="key_rotation", outcome="granted", register_sha256=sha)
        typer.echo(
            f"rotated keys v{result.old_version} -> v{result.new_version}"
            f"{' (resumed)' if result.resumed else ''}: {result.tokens} tokens, {result.pseudo_ids} pseudo-IDs, "
            f"{result.staged_files} staged files, {result.warehouse_tables} warehouse tables; "
            f"v{result.old_version} keys moved to {(keys or h.keys) / 'retired'} (audit seq {entry.seq})"
        )

    @app.command("extract")
    def extract_cmd(
        purpose: Annotated[str, typer.Option("--purpose", help="Purpose id permitting this domain.")],
        user: UserOpt,
        domain: Annotated[str, typer.Option("--domain", help="Recipient domain, e.g. 'research-tre'.")],
        cohort: Annotated[str, typer.Option("--cohort", help="Cohort id.")],
        home: HomeOpt = DEFAULT_HOME,
        data: DataOpt = DEFAULT_DATA,
        out: Annotated[
            Path | None, typer.Option("--out", help="Output CSV (default HOME/extracts/...).")
        ] = None,
        keys: KeysOpt = None,
        min_k: Annotated[
            int, typer.Option("--min-k", min=5, help="Smallest class every row must share (k-anonymity).")
        ] = 5,
    ) -> None:
        """Pseudonymised extract with tokens for one recipient only, generalised to k-anonymity, plus
        protected aggregates (audited)."""
        from pseudonymisation.keys import KeyProviderError
        from pseudonymisation.release import AuditError
        from pseudonymisation.release.extract import ExtractError, extract

        h = Home(home.resolve())
        try:
            outcome = extract(home=h, landing=data / "landing", purpose=purpose, user=user, domain=domain,
                              cohort=cohort, keys=provider(h, keys), now=datetime.now(UTC), out=out,
                              min_k=min_k)  # fmt: skip
        except (ExtractError, KeyProviderError, AuditError) as exc:
            raise Refused(f"extract refused: {exc}") from None
        typer.echo(
            f"wrote {outcome.rows} rows to {outcome.path} and aggregates to {outcome.aggregates_path} "
            f"({outcome.removed_opt_out} removed by opt-outs; k = {outcome.k} at level {outcome.level}; "
            f"audit seq {outcome.audit_seq})"
        )

    @app.command("transparency")
    def transparency_cmd(home: HomeOpt = DEFAULT_HOME, keys: KeysOpt = None) -> None:
        """Write the public transparency report (markdown and HTML) into HOME/reports/."""
        from pseudonymisation.release.bundle import load_installed
        from pseudonymisation.release.transparency import write_report

        h = Home(home.resolve())
        md, page = write_report(h, load_installed(h), provider(h, keys), now=datetime.now(UTC))
        typer.echo(f"wrote {md} and {page}")
