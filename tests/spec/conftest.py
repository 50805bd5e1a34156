"""Guard: no test in this folder may rely on the global `random` (see tests/README.md)."""

from collections.abc import Iterator

import pytest

from tests.fixtures.randomness import global_random_untouched


@pytest.fixture(autouse=True)
def _no_global_random() -> Iterator[None]:
    with global_random_untouched():
        yield
