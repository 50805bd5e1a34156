"""`phm keys retire` (destroy rotated-out keys once nothing uses them) and `phm lineage resolve`.

Both are identifiable-zone acts for the service account: retiring is the runbook step after a
verified rotation (docs/runbook_keys.md), audited in the release audit log; resolving turns a
warehouse row token back into its landing file and line for a data engineer fixing a feed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import Refused
from core.layout import DEFAULT_HOME, Home
from phm.release_cli import HomeOpt, KeysOpt, audit_for_keys, key_dir, provider


def register_commands(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add `keys retire` to the keys group and the `lineage` group to the app."""

    @keys_app.command("retire")
    def keys_retire(
        home: HomeOpt = DEFAULT_HOME,
        keys: KeysOpt = None,
        confirm: Annotated[
            bool, typer.Option("--confirm", help="Destroy the retired keys (irreversible).")
        ] = False,
    ) -> None:
        """After a verified rotation: check no old-version token is left in the home, then destroy the
        retired keys (audited)."""
        from pseudonymisation.retire import RetireError, retire_keys

        h = Home(home.resolve())
        folder = key_dir(h, keys)
        if folder is None:
            raise Refused("keys from the environment are retired in the secret store (docs/runbook_keys.md)")
        log, sha = audit_for_keys(h, keys, "key retirement")
        try:
            result = retire_keys(h, folder, confirm=confirm)
        except RetireError as exc:
            log.append(event="key_retire", outcome="denied", reason="old_tokens_remain", register_sha256=sha)
            raise Refused(f"key retirement refused: {exc}") from None
        entry = log.append(event="key_retire", outcome="granted", register_sha256=sha)
        versions = ", ".join(f"v{v}" for v in result.versions)
        typer.echo(
            f"retired keys {versions} destroyed: {result.destroyed} key files; no old-version token left "
            f"under {h.root} (audit seq {entry.seq})"
        )

    lineage_app = typer.Typer(help="Trace warehouse rows back to landing (identifiable zone only).")
    app.add_typer(lineage_app, name="lineage")

    @lineage_app.command("resolve")
    def lineage_resolve(
        token: Annotated[str, typer.Argument(help="A row_token from the warehouse (L- and 24 hex).")],
        home: HomeOpt = DEFAULT_HOME,
        keys: KeysOpt = None,
    ) -> None:
        """Print the landing file and line a warehouse row token came from."""
        from core.errors import UsageError
        from pseudonymisation.lineage import LineageTokeniser, resolve_row_token

        h = Home(home.resolve())
        try:
            lineage = LineageTokeniser(provider(h, keys).lineage_key())
            found = resolve_row_token(sorted(h.identifiable.glob("staged/*/*.parquet")), lineage, token)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if found is None:
            raise Refused("no staged record has this row token (a different lineage key, or a later load)")
        typer.echo(f"{found.source_file}:{found.source_line}")
