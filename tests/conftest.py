"""Suite-wide: how `pytest -n` (pytest-xdist, `--dist loadfile`) shares tests between workers.

Every test module runs on one worker (`--dist loadfile`), so a module's own expensive fixtures (a
generated ICS, a trained model, a browser) are built once, on the worker that runs the module. (The
suite used `--dist loadgroup` with an `xdist_group` mark per module; under pytest 9 pytest-xdist 3.8
can no longer tag a test's node id with its group, so every test was scheduled on its own and each
module-scoped fixture was built on every worker that drew one of its tests.) The inputs many modules
share (the synthetic ICSs and the loads of them, tests/integration/conftest.py) are built once per
session whichever worker asks first (tests/fixtures/session_cache.py), so the modules that read them
spread over every worker instead of queueing on one.

Modules are handed to workers in collection order (`make test` passes `--no-loadscope-reorder`; xdist
would otherwise start with the modules that have the most tests, the cheap unit ones, and leave a
two-minute integration module for last). So the long ones go first: the first module that reads the
small ICS's load (its worker starts that load at once, while the other workers run modules that do not
need it), then the modules marked `slow`, then `integration/`, then the rest, whose many short modules
fill the workers' tails evenly.
"""

from __future__ import annotations

import os
import sys

import pytest

# Byte-code is cached for the suite even where the shell exports PYTHONDONTWRITEBYTECODE (this machine
# and its CI do, and uv installs without .pyc files): otherwise every `phm` subprocess, every xdist
# worker and every Dagster run compiles Dagster, Great Expectations, polars' Python layer and the rest
# from source again (a 300-person `phm run` spent a quarter of its time compiling).
# Set here, in the process that starts the workers and subprocesses, so all of them inherit it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# The fixture of tests/integration/conftest.py that the small ICS's one load is built in.
_SHARED_LOAD = "small_load"


def pytest_configure(config: pytest.Config) -> None:
    # `--dist loadgroup` would silently schedule test by test again (see above), building every
    # module-scoped fixture on each worker: refuse it rather than run the suite at twice the cost.
    if config.getoption("dist", "no") == "loadgroup":
        raise pytest.UsageError("use --dist loadfile (each module on one worker; see tests/conftest.py)")


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
