"""Orchestration.

`pipelines.definitions` (and the modules it imports) is the only code that imports Dagster. The plain
modules here — `home` (where things live) and `steps` (one function per pipeline stage, file in, file
out) — are shared by the Dagster assets and by `phm bench`, so both run exactly the same code.
"""
