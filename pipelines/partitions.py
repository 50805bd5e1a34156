"""Monthly partitions of the extracts, added from the files that arrive in landing (sensor or `phm run`)."""

import dagster as dg

extract_months = dg.DynamicPartitionsDefinition(name="extract_month")
