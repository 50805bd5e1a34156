"""Fingerprint a warehouse, or compare two: row count and an order-free checksum of every table.

Used to prove a refactoring left the warehouse unchanged: build the same synthetic ICS (fixed seed)
with the old code and the new code, into two homes that share one set of dev keys (tokens depend on
the key), then

    python scripts/warehouse_fingerprint.py OLD/warehouse/warehouse.duckdb NEW/warehouse/warehouse.duckdb

prints one line per table (rows, checksum, same/DIFFERENT) and exits 1 when any table differs.
The checksum is the sum of DuckDB's hash of each row (so row order does not matter, a changed, added
or removed row does). Columns that stamp a particular run — its id and its clock — are left out,
since two runs of the same code differ there by design; everything else is compared.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

#: Columns that identify one run (ids made per run, wall-clock stamps), not the data.
RUN_STAMP_COLUMNS = frozenset({"load_id", "run_id", "built_at", "run_at"})


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    """``{table: (rows, checksum)}`` for every table of the DuckDB file at ``path`` (opened read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            t for (t,) in con.sql("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()
        ]
        out: dict[str, tuple[int, int]] = {}
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if c not in RUN_STAMP_COLUMNS
            ]
            # Identifiers come from the file's own catalogue, quoted; no value is formatted into SQL.
            row = ", ".join(f'"{c}"' for c in columns)
            rows, checksum = con.sql(
                f'SELECT count(*), coalesce(sum(hash(row({row}))::HUGEINT), 0) FROM "{table}"'  # noqa: S608
            ).fetchall()[0]
            out[table] = (int(rows), int(checksum))
        return out
    finally:
        con.close()


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: warehouse_fingerprint.py WAREHOUSE [OTHER_WAREHOUSE]\n")
        return 2
    first = fingerprint(Path(argv[0]))
    second = fingerprint(Path(argv[1])) if len(argv) == 2 else first
    differ = 0
    for table in sorted(first.keys() | second.keys()):
        a, b = first.get(table), second.get(table)
        verdict = "same" if a == b else "DIFFERENT"
        differ += a != b
        shown = a if a is not None else b
        assert shown is not None
        sys.stdout.write(
            f"{table:32} {shown[0]:>10,} rows  {shown[1]:>40}  {verdict if len(argv) == 2 else ''}\n"
        )
    if len(argv) == 2:
        sys.stdout.write(f"{len(first | second)} tables, {differ} different\n")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
