"""Named pause points, so a test can kill a real load at an exact moment (no sleeps, no timing).

`pause_point(name)` does nothing unless the process was started with `PHM_PAUSE_AT=<name>` (read
once, at import, as the entry point's environment). Then, at that point, it prints `PAUSED <name>` on
stderr and blocks reading stdin, so the test reads that line, knows where the process is, and kills
it (`kill -9`). Points: `warehouse_built` (the build's tables exist, not yet checked or committed),
`warehouse_step_done` (the build file is complete, the cohort step has not run), `cohort_written`
(the cohort tables are in the build file, not yet committed), `before_replace` (the build is on
disk, not yet swapped in), `after_replace` (published, the build's lock not yet released).
"""

from __future__ import annotations

import os
import sys

PAUSE_AT = os.environ.get("PHM_PAUSE_AT", "")
POINTS = frozenset(
    {"warehouse_built", "warehouse_step_done", "cohort_written", "before_replace", "after_replace"}
)


def pause_point(name: str) -> None:
    """Block here when this process was told to pause at `name` (tests only; see the module doc)."""
    if name not in POINTS:
        raise ValueError(f"unknown pause point {name!r}")
    if PAUSE_AT == name:
        sys.stderr.write(f"PAUSED {name}\n")
        sys.stderr.flush()
        sys.stdin.read()  # until the test kills this process (or closes stdin)
