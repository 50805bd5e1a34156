"""A sensor that notices new or changed files in landing and loads their months.

Off by default (`DefaultSensorStatus.STOPPED`): a fresh `phm ui` never starts a load by itself. Turn
it on in the UI (Automation -> landing_sensor -> toggle), or from a shell against the same
DAGSTER_HOME: `dagster sensor start landing_sensor -w workspace.yaml`. Its state is kept in
DAGSTER_HOME, so once started it stays on across restarts.
"""

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from connectors.landing import Delivery, inventory, parse_delivery
from pipelines.partitions import RANGE_END, RANGE_START, add_months
from pipelines.resources import PhmPaths


def _landing_files(landing: Path) -> dict[str, float]:
    """Every regular file under landing (deliveries of any version or format, registers, manifests)."""
    files: dict[str, float] = {}
    for entry in inventory(landing):
        st = (landing / entry.path).lstat()
        files[entry.path] = st.st_mtime
    return files


def _months(names: Iterable[str]) -> list[str]:
    """Extract months of landing files named by the delivery rule (`connectors.landing`)."""
    found = {d.month for d in map(parse_delivery, names) if isinstance(d, Delivery)}
    return sorted(found)


@dg.sensor(job_name="load_all", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(context: dg.SensorEvaluationContext, paths: PhmPaths) -> dg.SensorResult:
    """New or changed extract files -> add their months as partitions and run a load over them."""
    seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    current = _landing_files(paths.landing)
    changed = sorted(name for name, mtime in current.items() if seen.get(name) != mtime)
    if not changed:
        return dg.SensorResult(skip_reason="no new or changed files in landing", cursor=json.dumps(current))
    months = _months(current)
    add_months(context.instance, months)  # in calendar order, so an older month is inside its range
    registers_changed = any(n.startswith(("registers/", "reference/")) for n in changed)
    changed_months = _months(changed)
    to_load = months if registers_changed else changed_months
    run_requests = []
    if to_load:
        run_requests.append(
            dg.RunRequest(
                run_key="landing-"
                + hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16],
                tags={RANGE_START: to_load[0], RANGE_END: to_load[-1]},
            )
        )
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=json.dumps(current),
    )
