"""Ingest: the registers, one monthly-partitioned asset per source, and the (opt-in) landing sensor."""
