"""`phm governance`: approvers, signing and installing the governance bundle, practice keys.

The explicit setup steps of a governed installation (docs/governance.md, 'Setting up'):

1. each approver makes a signing key on their own machine (``keygen``) and hands over the public key;
2. the operator installs it (``approver add``, audited);
3. the approver signs the reviewed bundle folder (``sign``);
4. the operator installs the signed bundle (``install``, audited): from then on every release uses it,
   and re-checks its signature and files each time.

``practice-keygen`` makes a receiving practice's HPKE key pair (the private key stays at the practice;
the public key goes into the bundle's ``organisations.yaml``). Mounted by `phm/cli.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from core.layout import DEFAULT_HOME, Home
from phm.release_cli import key_dir, provider

__all__ = ["register_governance"]

HomeOpt = Annotated[Path, typer.Option("--home", help="Installation home.")]
KeysOpt = Annotated[Path | None, typer.Option("--keys", help="Key folder (default HOME/identifiable/keys).")]


def register_governance(app: typer.Typer) -> None:
    """Add the `governance` group (and its `approver` subgroup) to the `phm` app."""
    gov = typer.Typer(help="Governance bundle: approvers, signing, installing.", no_args_is_help=True)
    approver = typer.Typer(help="Approvers whose signature makes a bundle valid.", no_args_is_help=True)
    gov.add_typer(approver, name="approver")
    app.add_typer(gov, name="governance")

    @gov.command("keygen")
    def keygen(
        out: Annotated[Path, typer.Option("--out", help="Private key file to create (0600).")],
    ) -> None:
        """Make an approver's Ed25519 signing key (OUT) and public key (OUT.pub). Keep OUT to yourself."""
        from pseudonymisation.release.bundle import new_approver_key

        new_approver_key(out)
        typer.echo(f"wrote signing key {out} and public key {out}.pub")

    @approver.command("add")
    def approver_add(
        approver_id: Annotated[str, typer.Option("--id", help="Approver id, e.g. 'ig-lead'.")],
        public_key: Annotated[Path, typer.Option("--public-key", help="The approver's .pub file.")],
        home: HomeOpt = DEFAULT_HOME,
        keys: KeysOpt = None,
    ) -> None:
        """Install an approver's public key in the home (audited)."""
        from pseudonymisation.release.setup import add_approver_audited, start_audit_key

        h = Home(home.resolve()).prepare()
        start_audit_key(h, key_dir(h, keys))
        path = add_approver_audited(h, provider(h, keys), approver_id, public_key.read_text("ascii"))
        typer.echo(f"approver '{approver_id}' installed ({path})")

    @gov.command("sign")
    def sign(
        bundle: Annotated[
            Path, typer.Argument(help="Bundle folder: governance_register.yaml, users.yaml, ...")
        ],
        key: Annotated[Path, typer.Option("--key", help="Your signing key (from `phm governance keygen`).")],
        approver_id: Annotated[str, typer.Option("--approver", help="Your approver id.")],
    ) -> None:
        """Check the bundle's files and sign them (writes manifest.json and manifest.sig)."""
        from pseudonymisation.release.bundle import sign_bundle

        digest = sign_bundle(bundle, key, approver_id, now=datetime.now(UTC))
        typer.echo(f"signed {bundle} as '{approver_id}': bundle {digest}")

    @gov.command("install")
    def install(
        bundle: Annotated[Path, typer.Argument(help="A signed bundle folder.")],
        home: HomeOpt = DEFAULT_HOME,
        keys: KeysOpt = None,
    ) -> None:
        """Verify a signed bundle against the installed approvers and put it in force (audited)."""
        from pseudonymisation.release.setup import install_audited, start_audit_key

        h = Home(home.resolve()).prepare()
        start_audit_key(h, key_dir(h, keys))
        governance = install_audited(h, provider(h, keys), bundle)
        typer.echo(
            f"installed bundle {governance.sha256} signed by '{governance.approver}': "
            f"{len(governance.register.purposes)} purposes, {len(governance.users.users)} users, "
            f"{len(governance.organisations.organisations)} organisations"
        )

    @gov.command("practice-keygen")
    def practice_keygen(
        out: Annotated[Path, typer.Option("--out", help="The practice's private key file to create (0600).")],
    ) -> None:
        """Make a practice's HPKE key pair; prints the public key for organisations.yaml."""
        from pseudonymisation.release.sealing import new_practice_key

        public = new_practice_key(out)
        typer.echo(f"wrote practice key {out}; hpke_public_key: {public}")
