"""`phm release`, `phm audit verify`, `phm keys rotate`, `phm extract`, `phm transparency`.

Mounted by `phm/cli.py` with ``register_commands(app)``. Environment is read here, at the entry point:
keys come from ``PHM_TOKEN_KEY`` / ``PHM_VAULT_KEY`` when set, else from the key folder (``--keys``,
default ``HOME/identifiable/keys``). These commands never *generate* keys: a missing vault key is a
denial, not a new key. Output is counts, codes and paths only; errors are one line on stderr.

Register, first found: ``--register FILE``; ``HOME/governance_register.yaml``;
``DATA/landing/registers/governance_register.yaml``; the shipped
``pseudonymisation/release/example_register.yaml``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import Refused, UsageError
from core.layout import DEFAULT_DATA, DEFAULT_HOME, Home
from pseudonymisation.release.register import EXAMPLE_REGISTER, resolve_register_path

if TYPE_CHECKING:
    from pseudonymisation import KeyProvider
    from pseudonymisation.release import GovernanceRegister

__all__ = ["EXAMPLE_REGISTER", "register_commands", "resolve_register_path"]

HomeOpt = Annotated[
    Path, typer.Option("--home", help="Installation home: warehouse, vault, keys, audit log.")
]
DataOpt = Annotated[Path, typer.Option("--data", help="Folder holding landing/ (registers are re-read now).")]
RegisterOpt = Annotated[Path | None, typer.Option("--register", help="Governance register YAML.")]
KeysOpt = Annotated[Path | None, typer.Option("--keys", help="Key folder (default HOME/identifiable/keys).")]


def _provider(home: Home, keys_dir: Path | None) -> KeyProvider:
    from pseudonymisation import KeyProvider

    if "PHM_TOKEN_KEY" in os.environ or "PHM_VAULT_KEY" in os.environ:
        return KeyProvider.from_env(os.environ)
    return KeyProvider.from_directory(keys_dir or home.keys)


def _register(home: Path, data: Path, explicit: Path | None) -> GovernanceRegister:
    from pseudonymisation.release import RegisterError, load_register

    try:
        return load_register(resolve_register_path(home, data, explicit))
    except RegisterError as exc:
        raise Refused(f"governance register refused: {exc}") from None


def register_commands(app: typer.Typer) -> None:
    """Add the governed-release commands (and the `audit` and `keys` groups) to the `phm` app."""
    audit_app = typer.Typer(help="The release audit log.", no_args_is_help=True)
    keys_app = typer.Typer(help="Token and vault keys.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")

    @app.command("release")
    def release_cmd(
        purpose: Annotated[str, typer.Option("--purpose", help="Purpose id from the governance register.")],
        cohort: Annotated[str, typer.Option("--cohort", help="Cohort id.")],
        practice: Annotated[str, typer.Option("--practice", help="Receiving practice ODS code.")],
        requester: Annotated[str, typer.Option("--requester", help='Who asks: "name, role".')],
        home: HomeOpt = DEFAULT_HOME,
        data: DataOpt = DEFAULT_DATA,
        register: RegisterOpt = None,
        keys: KeysOpt = None,
    ) -> None:
        """Release a re-identified cohort list to one practice under an approved purpose (audited)."""
        from pseudonymisation.release import AuditError
        from pseudonymisation.release.release import release

        h = Home(home.resolve())
        reg = _register(h.root, data, register)
        try:
            outcome = release(
                home=h,
                landing=data / "landing",
                register=reg,
                purpose=purpose,
                cohort=cohort,
                practice=practice,
                requester=requester,
                now=datetime.now(UTC),
                keys=_provider(h, keys),
            )
        except AuditError as exc:
            raise Refused(f"release refused, the audit log cannot be written: {exc}") from None
        if not outcome.granted:
            raise Refused(
                f"release denied ({outcome.reason}): {outcome.message} [audit seq {outcome.audit_seq}]"
            )
        removed = ", ".join(f"{k} {v}" for k, v in outcome.removed_by_route.items()) or "none"
        typer.echo(
            f"released {outcome.count_released} patient(s) to {outcome.path} "
            f"(opt-outs removed: {removed}; not in vault: {outcome.not_in_vault}; audit seq {outcome.audit_seq})"
        )

    @audit_app.command("verify")
    def audit_verify(
        home: HomeOpt = DEFAULT_HOME,
        anchor: Annotated[
            list[str] | None, typer.Option("--anchor", help="Published head 'seq:hash' (repeatable).")
        ] = None,
    ) -> None:
        """Check the release audit chain; exit 0 if it holds, 1 naming the first bad entry."""
        from pseudonymisation.release import AuditError, Head, verify
        from pseudonymisation.release.release import audit_log_path

        path = audit_log_path(Home(home.resolve()))
        try:
            anchors = [Head.parse(a) for a in anchor or []]
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        try:
            result = verify(path, anchors)
        except AuditError as exc:
            raise Refused(f"audit log FAILED: {exc}") from None
        if not result.ok:
            raise Refused(f"audit log FAILED at entry {result.first_bad_seq}: {result.problem}")
        typer.echo(f"audit log OK: {result.entries} entries ({path})")

    @keys_app.command("rotate")
    def keys_rotate(home: HomeOpt = DEFAULT_HOME, keys: KeysOpt = None) -> None:
        """New key version; re-tokenise, re-encrypt the vault, rewrite staged + warehouse; retire old keys."""
        from pseudonymisation.keys import KeyUnavailableError
        from pseudonymisation.rotate import RotationError, rotate_keys

        if "PHM_TOKEN_KEY" in os.environ or "PHM_VAULT_KEY" in os.environ:
            raise Refused("keys from the environment are rotated in the secret store (docs/runbook_keys.md)")
        h = Home(home.resolve())
        try:
            result = rotate_keys(h, keys or h.keys)
        except (RotationError, KeyUnavailableError) as exc:
            raise Refused(f"key rotation refused: {exc}") from None
        typer.echo(
            f"rotated keys v{result.old_version} -> v{result.new_version}"
            f"{' (resumed)' if result.resumed else ''}: {result.tokens} tokens, {result.pseudo_ids} pseudo-IDs, "
            f"{result.staged_files} staged files, {result.warehouse_tables} warehouse tables; "
            f"v{result.old_version} keys moved to {(keys or h.keys) / 'retired'}"
        )

    @app.command("extract")
    def extract_cmd(
        domain: Annotated[str, typer.Option("--domain", help="Recipient domain, e.g. 'research-tre'.")],
        cohort: Annotated[str, typer.Option("--cohort", help="Cohort id.")],
        home: HomeOpt = DEFAULT_HOME,
        data: DataOpt = DEFAULT_DATA,
        out: Annotated[
            Path | None, typer.Option("--out", help="Output CSV (default HOME/extracts/...).")
        ] = None,
        keys: KeysOpt = None,
    ) -> None:
        """Pseudonymised extract with tokens for one recipient only, plus protected aggregates."""
        from connectors.errors import ExtractFileError
        from pseudonymisation.keys import KeyProviderError
        from pseudonymisation.release.extract import ExtractError, extract

        h = Home(home.resolve())
        try:
            outcome = extract(
                home=h,
                landing=data / "landing",
                domain=domain,
                cohort=cohort,
                keys=_provider(h, keys),
                now=datetime.now(UTC),
                out=out,
            )
        except (ExtractError, ExtractFileError, KeyProviderError, FileExistsError) as exc:
            raise Refused(f"extract refused: {exc}") from None
        typer.echo(
            f"wrote {outcome.rows} rows to {outcome.path} and aggregates to {outcome.aggregates_path} "
            f"({outcome.removed_opt_out} removed by opt-outs)"
        )

    @app.command("transparency")
    def transparency_cmd(
        home: HomeOpt = DEFAULT_HOME, data: DataOpt = DEFAULT_DATA, register: RegisterOpt = None
    ) -> None:
        """Write the public transparency report (markdown and HTML) into HOME/reports/."""
        from pseudonymisation.release.transparency import write_report

        h = Home(home.resolve())
        md, page = write_report(h, _register(h.root, data, register), now=datetime.now(UTC))
        typer.echo(f"wrote {md} and {page}")
