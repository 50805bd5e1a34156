"""Guard: no test in this folder may rely on the global `random` (see tests/README.md)."""

import pytest

from tests.fixtures.randomness import forbid_global_random


@pytest.fixture(autouse=True)
def _no_global_random(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_global_random(monkeypatch)
