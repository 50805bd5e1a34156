"""The analyst warehouse: one asset per table, all built by one atomic build."""
