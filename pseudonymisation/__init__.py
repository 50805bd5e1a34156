"""Pseudonymisation: the boundary between the identifiable zone and the pseudonymised warehouse.

One of the few packages that touches identifiable data (NHS numbers, names, dates of birth, postcodes).
It turns NHS numbers into keyed tokens, keeps the only way back in an encrypted vault under a separate
key, and drops or generalises everything else identifying. Nothing here prints, logs or raises with
patient values or key material. See docs/keys.md.

    provider = KeyProvider.from_env()                 # or .from_directory(...) / .dev(home / "keys")
    tokeniser = Tokeniser(provider.token_key(), domain="warehouse")
    person = deidentify(records, tokeniser, postcode_lsoa)
    with Vault.open(vault_dir, provider.vault_key()) as vault:   # the load writes; only release reads
        vault.put_many(tokens, nhs_numbers)
"""

from .deidentify import IDENTIFIABLE_COLUMNS, deidentify
from .keys import Key, KeyProvider, KeyProviderError, KeyUnavailableError, WeakKeyError
from .lineage import LineageTokeniser
from .lookups import LsoaLookup, TokenMap
from .tokens import PSEUDO_ID_PATTERN, TOKEN_PATTERN, Tokeniser, derive_domain_key, pseudo_id, tokenise
from .vault import Vault, VaultError, VaultTamperError

__all__ = [
    "IDENTIFIABLE_COLUMNS",
    "PSEUDO_ID_PATTERN",
    "TOKEN_PATTERN",
    "Key",
    "KeyProvider",
    "KeyProviderError",
    "KeyUnavailableError",
    "LineageTokeniser",
    "LsoaLookup",
    "TokenMap",
    "Tokeniser",
    "Vault",
    "VaultError",
    "VaultTamperError",
    "WeakKeyError",
    "deidentify",
    "derive_domain_key",
    "pseudo_id",
    "tokenise",
]
