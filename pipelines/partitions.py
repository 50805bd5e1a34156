"""Monthly partitions of the extracts, added from the files that arrive in landing (sensor or `phm run`).

A load over several months is one run over a partition range (the ingest assets' single-run backfill
policy), named by the two range tags.
"""

import dagster as dg

EXTRACT_MONTHS = "extract_month"
extract_months = dg.DynamicPartitionsDefinition(name=EXTRACT_MONTHS)

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
