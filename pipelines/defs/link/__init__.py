"""Tracing and pseudonymisation: GP master, pooled trace, token map and vault, pseudonymised sources."""
