"""Suite-wide: how `pytest -n` (pytest-xdist, `--dist loadgroup`) shares tests between workers.

Every test is grouped by its module, so a module's own expensive fixtures (a generated ICS, a trained
model, a browser) are built once, on the worker that runs the module. The inputs many modules share
(the synthetic ICSs and the loads of them, tests/integration/conftest.py) are built once per session
whichever worker asks first (tests/fixtures/session_cache.py), so the modules that read them spread
over every worker instead of queueing on one.

Modules are handed to workers in collection order (`make test` passes `--no-loadscope-reorder`; xdist
would otherwise start with the modules that have the most tests, the cheap unit ones, and leave a
two-minute integration module for last). So the long ones go first: the first module that reads the
small ICS's load (its worker starts that load at once, while the other workers run modules that do not
need it), then the modules marked `slow`, then `integration/`, then the rest, whose many short modules
fill the workers' tails evenly.
"""

from __future__ import annotations

import pytest

# The fixture of tests/integration/conftest.py that the small ICS's one load is built in.
_SHARED_LOAD = "small_load"


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    builder = next((_module(i) for i in items if _SHARED_LOAD in getattr(i, "fixturenames", ())), None)

    def rank(item: pytest.Item) -> int:
        if _module(item) == builder:
            return 0
        if item.get_closest_marker("slow"):
            return 1
        return 2 if item.nodeid.startswith("tests/integration/") else 3

    items[:] = sorted(items, key=rank)  # stable: modules and tests keep their order within a rank
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(_module(item)))
