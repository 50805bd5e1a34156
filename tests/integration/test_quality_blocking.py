"""Issue 4 §4: a blocking data quality failure stops downstream assets, and `phm run` (pipelines.runner.load)
says which check failed and by how much. Runs on its own tiny ICS with one feed corrupted."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from core.layout import Home
from pipelines.runner import PipelineFailed, load


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A tiny ICS whose APC files have 2 data lines in 5 made malformed (an extra field)."""
    from synthetic import GeneratorConfig, generate

    out = tmp_path_factory.mktemp("tiny_ics")
    generate(GeneratorConfig(persons=600, seed=11, months=3), out)
    bad = total = 0
    for path in sorted((out / "landing" / "apc").glob("apc_*.csv")):
        header, *lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if i % 5 in (0, 2):
                lines[i] = line + ",extra"
                bad += 1
        total += len(lines)
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return out, bad, total


def test_blocking_check_stops_downstream_and_says_why(
    corrupted: tuple[Path, int, int], tmp_path: Path
) -> None:
    data, bad, total = corrupted
    assert bad > 20
    home = Home(tmp_path / "home").prepare()
    with dg.instance_for_test() as instance, pytest.raises(PipelineFailed) as failure:
        load(data=data, home=home, instance=instance)
    message = str(failure.value)
    print(message)
    # Which check, on what, and by how much: every corrupted line was quarantined (the generator may
    # have made a few more malformed lines of its own).
    found = re.search(
        r"quarantine_rate on source/apc: (\d+) of (\d+) rows failed \((\d+\.\d\d)%, allowed 5\.00%\)", message
    )
    assert found, message
    failed, evaluated = int(found[1]), int(found[2])
    assert evaluated == total
    assert bad <= failed <= bad + 0.01 * total
    assert abs(float(found[3]) - 100 * failed / evaluated) < 0.01
    # Downstream of the failing source check nothing was built: no warehouse, no report.
    assert not home.warehouse.exists()
    assert not list(home.reports.glob("dq_*.html"))
