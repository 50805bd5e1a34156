"""Dagster resources: where the installation lives, and the keys.

Paths and key mode reach the code as resource fields set at the entry point (definitions.py or
`phm run`), never read from the environment deep inside the domain code.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from core.layout import Home
from pseudonymisation import KeyProvider


class PhmPaths(dg.ConfigurableResource):
    """The data folder (holding landing/) and the installation home."""

    data: str
    home: str

    @property
    def landing(self) -> Path:
        return Path(self.data) / "landing"

    def installation(self) -> Home:
        return Home(Path(self.home)).prepare()


class PhmKeys(dg.ConfigurableResource):
    """Key provider. In dev mode keys are generated on first use under HOME/identifiable/keys (0600).

    Outside dev mode keys come from PHM_TOKEN_KEY / PHM_VAULT_KEY (passed in as `dg.EnvVar`s) or
    from key files in `key_dir`; missing or weak keys are refused.
    """

    mode: str = "dev"
    key_dir: str = ""
    token_key: str | None = None
    vault_key: str | None = None

    def provider(self, home: Home, *, generate: bool = True) -> KeyProvider:
        """The provider for this installation. ``generate=False`` (releases, like the CLI) never makes
        a dev key: a missing key is a refusal, not a new key."""
        key_dir = Path(self.key_dir) if self.key_dir else home.keys
        if self.token_key or self.vault_key:
            env = {"PHM_TOKEN_KEY": self.token_key or "", "PHM_VAULT_KEY": self.vault_key or ""}
            return KeyProvider.from_env(env)
        if self.mode == "dev" and generate:
            return KeyProvider.dev(key_dir)
        return KeyProvider.from_directory(key_dir)


@dataclass(frozen=True)
class DbsMailbox:
    """Who answers a load's DBS trace request at once: the demo's synthetic national service
    (`phm run` on the embedded defaults), or nobody, as with a real DBS mailbox, whose answer arrives in
    landing/dbs/ later and is applied by the next run."""

    answer: Callable[[Path, Path], object] | None = None
