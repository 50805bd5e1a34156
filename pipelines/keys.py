"""Asset keys shared across the domain folders of `pipelines/defs/`.

Keys, not definitions: a defs module that imported another's asset would hand it to the defs loader a
second time, so the domains refer to each other's assets by key, from here.
"""

import dagster as dg

REGISTERS_KEY = dg.AssetKey(["identifiable", "opt_out_register"])
GP_MASTER_KEY = dg.AssetKey(["identifiable", "gp_master"])
TRACED_KEY = dg.AssetKey(["identifiable", "traced"])
CLUSTERED_KEY = dg.AssetKey(["identifiable", "clustered"])
TOKEN_MAP_KEY = dg.AssetKey(["identifiable", "token_map"])
PUBLISHED_KEY = dg.AssetKey(["cohort", "published"])
# The load's one publish step: the whole build (warehouse + quality + cohort tables) swapped in at once.
PUBLISH_KEY = dg.AssetKey(["published_warehouse"])
REPORT_KEY = dg.AssetKey(["reports", "data_quality"])


def ingest_key(source: str) -> dg.AssetKey:
    """Staged identifiable records of one source (monthly partitions)."""
    return dg.AssetKey(["identifiable", source])


def pseudonymised_key(source: str) -> dg.AssetKey:
    """Tokenised, de-identified records of one source."""
    return dg.AssetKey(["pseudonymised", source])


def warehouse_key(table: str) -> dg.AssetKey:
    """One table of the analyst warehouse (`warehouse/<table>`, as quality/'s expectations name it)."""
    return dg.AssetKey(["warehouse", table])
