"""Monthly partitions of the extracts, added from the files that arrive in landing (sensor or `phm run`).

A load over several months is one run over a partition range (the ingest assets' single-run backfill
policy), named by the two range tags.
"""

import dagster as dg

EXTRACT_MONTHS = "extract_month"
extract_months = dg.DynamicPartitionsDefinition(name=EXTRACT_MONTHS)

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

# Landing entries that cannot be loaded and that the operator acknowledged (`phm run --skip`):
# a JSON list of paths relative to landing, or ["*"] for all (`--skip-unloaded`).
SKIP_TAG = "phm/skip_unloaded"


def add_months(instance: dg.DagsterInstance, months: list[str]) -> None:
    """Add months as partitions, keeping the partitions in calendar order.

    A run's range tags select partitions by their order in the instance, which is the order they were
    added: a month older than every known one, appended last, would fall outside its own range (and
    the run would claim months it never ingested). So when a new month sorts before a known one the
    partitions are re-added in order (materialisation history is keyed by the month, so it is kept).
    """
    known = list(instance.get_dynamic_partitions(EXTRACT_MONTHS))
    wanted = sorted(set(known) | set(months))
    if known == wanted:
        return
    if known != wanted[: len(known)]:
        for month in known:
            instance.delete_dynamic_partition(EXTRACT_MONTHS, month)
        known = []
    instance.add_dynamic_partitions(EXTRACT_MONTHS, wanted[len(known) :])
