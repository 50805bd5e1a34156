"""Disclosure risk: the per-run report of k-anonymity class sizes on the warehouse's quasi-identifiers."""
