"""Run the warehouse's SQL scripts on several cursors of the building connection at once.

Writing one table into the file is mostly DuckDB compressing its keyed random tokens, and that work
runs on about one core whatever DuckDB's `threads` (docs/performance.md, session 8). Independent
tables are therefore built side by side, one statement per cursor of the same connection (DuckDB runs
each cursor's statement on its own thread; the cursors share one database, so one `memory_limit`).
Nothing about a table changes, only when it is written: the tables, their rows and `person`'s
`ORDER BY` are exactly what the scripts make one after the other.

The scripts are split into units. A script that makes TEMP tables runs as one unit, in order, on one
cursor (temp tables belong to the cursor that made them); every statement of any other script is a
unit of its own. A unit waits for the units that create a table it names (its SQL, comments left
out, names that table as a word), so `person.sql` starts once `apc_spell` is committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import duckdb

_COMMENT = re.compile(r"--[^\n]*")
_CREATES = re.compile(r"\bCREATE\s+(TEMP\s+|TEMPORARY\s+)?TABLE\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    """Statements run in order on one cursor; `creates`: the persistent tables they make."""

    name: str
    statements: tuple[str, ...]
    creates: frozenset[str]
    text: str  # the statements without comments, to find the tables the unit names


def units_of(scripts: Sequence[tuple[str, str]]) -> list[Unit]:
    """The units of `scripts` (`(name, sql)` pairs), in script order."""
    splitter = duckdb.connect(":memory:")
    try:
        units: list[Unit] = []
        for name, sql in scripts:
            statements = [s.query.strip() for s in splitter.extract_statements(sql)]
            statements = [s for s in statements if _COMMENT.sub("", s).strip()]
            texts = [_COMMENT.sub("", s) for s in statements]
            if any(temp for text in texts for temp, _ in _CREATES.findall(text)):
                units.append(_unit(name, statements, texts))
            else:
                units += [
                    _unit(f"{name}:{n}", [s], [t])
                    for n, (s, t) in enumerate(zip(statements, texts, strict=True))
                ]
        return units
    finally:
        splitter.close()


def _unit(name: str, statements: list[str], texts: list[str]) -> Unit:
    creates = frozenset(t.lower() for text in texts for temp, t in _CREATES.findall(text) if not temp)
    return Unit(name, tuple(statements), creates, "\n".join(texts).lower())


def needs(unit: Unit, units: Sequence[Unit]) -> frozenset[str]:
    """The tables other units create that `unit` names."""
    made = {t for u in units if u is not unit for t in u.creates}
    return frozenset(t for t in made if re.search(rf"\b{re.escape(t)}\b", unit.text))


def run_units(
    cursor: Callable[[], duckdb.DuckDBPyConnection],
    units: Sequence[Unit],
    *,
    lanes: int,
    alongside: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Run `units` on at most `lanes` cursors at once (each from `cursor()`, ready to read the build).

    Order: the units others wait for first, then those that wait (the longest chain, `person.sql`,
    must not start last), then the rest in script order. `alongside`, if given, runs on one more cursor
    for the whole time (e.g. the source checks, which read only the staged views). The first error is
    raised once the statements still running have been interrupted and have stopped; later units do
    not start.
    """
    lanes = max(1, lanes)
    wanted = {u.name: needs(u, units) for u in units}
    needed = {t for n in wanted.values() for t in n}
    pending = sorted(units, key=lambda u: (not (u.creates & needed), not wanted[u.name], units.index(u)))
    made: set[str] = set()
    idle: list[duckdb.DuckDBPyConnection] = []  # a lane's cursor is kept for its next unit
    running: dict[Future[None], tuple[Unit | None, duckdb.DuckDBPyConnection]] = {}
    with ThreadPoolExecutor(max_workers=lanes + (alongside is not None)) as pool:
        try:
            if alongside is not None:
                cur = cursor()
                running[pool.submit(alongside, cur)] = (None, cur)
            while pending or running:
                busy = sum(unit is not None for unit, _ in running.values())
                ready = [u for u in pending if wanted[u.name] <= made]
                if pending and not ready and not busy:
                    raise ValueError(f"warehouse SQL units wait on each other: {[u.name for u in pending]}")
                for unit in ready[: lanes - busy]:
                    pending.remove(unit)
                    cur = idle.pop() if idle else cursor()
                    running[pool.submit(_run, unit, cur)] = (unit, cur)
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    finished, cur = running.pop(future)
                    idle.append(cur)
                    future.result()  # the unit's error, if any, stops the build here
                    if finished is not None:
                        made |= finished.creates
        except BaseException:
            for _, cur in running.values():
                cur.interrupt()
            raise
        finally:
            wait(running)
            for cur in idle + [cur for _, cur in running.values()]:
                cur.close()


def _run(unit: Unit, cur: duckdb.DuckDBPyConnection) -> None:
    for statement in unit.statements:
        cur.execute(statement)
