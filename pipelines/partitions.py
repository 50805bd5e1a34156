"""Monthly partitions of the extracts, added from the files that arrive in landing (sensor or `phm run`)."""

import dagster as dg

EXTRACT_MONTHS = "extract_month"
extract_months = dg.DynamicPartitionsDefinition(name=EXTRACT_MONTHS)
