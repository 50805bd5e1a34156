"""Suite-wide: how `pytest -n` (pytest-xdist, `--dist loadgroup`) shares tests between workers.

A session fixture runs once per worker, so the one full load that many integration tests share
(`loaded`, in tests/integration/conftest.py) would run on every worker. Every test that asks for it
(directly or through `warehouse` / `loaded_copy`) is put in one group, so one worker loads once and
runs them all while the others run the rest. Every other test is grouped by its module, so a module's
own expensive fixtures (a generated ICS, a trained model) are also built once.
"""

from __future__ import annotations

import pytest

SHARED_LOAD = "shared_load"
_SHARED_LOAD_FIXTURES = frozenset({"loaded", "loaded_copy", "warehouse", "load_instance"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        uses_load = _SHARED_LOAD_FIXTURES & set(getattr(item, "fixturenames", ()))
        group = SHARED_LOAD if uses_load else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
