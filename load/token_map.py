"""Stage 5: each distinct NHS number of the load tokenised once and put into the vault once.

The map (NHS number -> token, in the clear) lives only while the load pseudonymises its files: the
publish stage deletes it (`discard_token_map`) before building the warehouse. It is dropped rather than
kept encrypted because nothing needs it after the load: the vault already holds the only copy anyone
may use (encrypted, and read only by release and rotation), and a second encrypted copy would be one
more file to re-key on rotation and to guard.
"""

from __future__ import annotations

import polars as pl

from connectors.spec import EXTRACTS
from core.layout import Home
from load.files import staged_months, write_parquet
from load.registers import Registers
from pseudonymisation import KeyProvider, Tokeniser, Vault


def build_token_map(home: Home, keys: KeyProvider, registers: Registers) -> int:
    """Tokenise every distinct NHS number of this load once, and put each into the vault once.

    Numbers come from the staged records and the tracing result; opted-out people are left out (their
    records never reach the warehouse, so the vault must not hold them either). Returns the count.
    """
    scans = [
        pl.scan_parquet(home.staged(source, month)).select("nhs_number")
        for source in EXTRACTS
        for month in staged_months(home, source)
    ]
    if home.trace_results.exists():
        scans.append(pl.scan_parquet(home.trace_results).select("nhs_number"))
    opted_out = pl.Series(sorted(registers.opt_outs.ndoo | registers.opt_outs.type1), dtype=pl.String)
    numbers = (
        pl.concat(scans).drop_nulls().unique().filter(~pl.col("nhs_number").is_in(opted_out.implode()))
        .sort("nhs_number").collect()
        if scans
        else pl.DataFrame(schema={"nhs_number": pl.String})
    )  # fmt: skip
    tokeniser = Tokeniser(keys.token_key(), domain="warehouse")
    token_map = numbers.with_columns(person_token=tokeniser.tokenise(numbers["nhs_number"]))
    with Vault.open(home.vault, keys.vault_key()) as vault:
        vault.put_many(token_map["person_token"], token_map["nhs_number"])
    write_parquet(token_map, home.token_map)
    return token_map.height


def discard_token_map(home: Home) -> bool:
    """Delete the load's token map once every source is pseudonymised; True if there was one."""
    existed = home.token_map.exists()
    home.token_map.unlink(missing_ok=True)
    return existed
