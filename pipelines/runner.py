"""`phm run`: materialise every asset headless, in-process, against a persistent Dagster home.

Runs exactly the job the Dagster UI runs (`load_all` over every month found in landing), so a run
from the terminal shows up in the UI's run history and asset catalogue too.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_shared.error import SerializableErrorInfo
from rich.console import Console
from rich.table import Table

from core.errors import Refused
from core.layout import Home
from linkage.warehouse import open_read_only
from load import landing_months
from pipelines.partitions import EXTRACT_MONTHS, RANGE_END, RANGE_START

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class PipelineFailed(Refused):
    """The run failed; the message lists the failing steps (file and problem, no patient values)."""


def run_pipeline(*, data: Path, home: Path, console: Console) -> None:
    """Run `load_all` over every month in DATA/landing and print a summary (`phm run`; the CLI makes
    the demo data first when it is missing, see phm/demo.py)."""
    data, home = data.resolve(), home.resolve()
    h = Home(home).prepare()
    os.environ["DAGSTER_HOME"] = str(h.dagster_home)  # the CLI is an entry point: set once, here
    with dg.DagsterInstance.get() as instance:
        months = load(
            data=data, home=h, instance=instance, key_mode=os.environ.get("PHM_ENV", "dev"), console=console
        )
    console.print(f"Loaded {len(months)} months ({months[0]} to {months[-1]}).")
    print_summary(h, console)


def load(
    *,
    data: Path,
    home: Home,
    instance: dg.DagsterInstance,
    key_mode: str = "dev",
    console: Console | None = None,
) -> list[str]:
    """Run the `load_all` job over every month found in DATA/landing; raise PipelineFailed on failure."""
    from pipelines.definitions import build_definitions

    months = landing_months(data / "landing")
    if not months:
        raise FileNotFoundError(f"no extract files under {data / 'landing'}")
    defs = build_definitions(data=str(data), home=str(home.root), key_mode=key_mode)
    known = set(instance.get_dynamic_partitions(EXTRACT_MONTHS))
    instance.add_dynamic_partitions(EXTRACT_MONTHS, [m for m in months if m not in known])
    if console is not None:
        console.print(f"Loading {len(months)} months ({months[0]} to {months[-1]}) from {data / 'landing'}")
    result = defs.resolve_job_def("load_all").execute_in_process(
        instance=instance,
        tags={RANGE_START: months[0], RANGE_END: months[-1]},
        run_config=QUIET_LOGS,
        raise_on_error=False,
    )
    blocking = [
        f"blocking check failed: {e.description or e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    if blocking:
        raise PipelineFailed(
            "data quality stopped the run; downstream assets were not materialised.\n" + "\n".join(blocking)
        )
    if not result.success:
        failures = [
            f"{e.step_key}: {_root_message(e.step_failure_data.error)}"
            for e in result.all_events
            if e.is_step_failure and e.step_failure_data is not None
        ]
        raise PipelineFailed(
            "run failed; the published warehouse is unchanged.\n"
            + "\n".join(failures or ["(see Dagster UI)"])
        )
    return months


# Our own errors, whose messages are written to name files, columns, reasons and counts only. Any other
# exception's message may quote a data value (e.g. a parser echoing a field), so only its type is shown.
SAFE_ERRORS = frozenset({
    "ExtractFileError", "ReconciliationError", "Failure", "KeyUnavailableError", "WeakKeyError",
    "VaultTamperError", "WarehouseCheckError", "IdentifierFound", "FileNotFoundError", "RegisterError",
})  # fmt: skip


def _root_message(error: SerializableErrorInfo | None) -> str:
    """The innermost error (Dagster wraps step errors), its message only if it is one of ours."""
    if error is None:
        return "unknown error"
    while error.cause is not None:
        error = error.cause
    if error.cls_name in SAFE_ERRORS:
        return error.message.strip()
    return f"{error.cls_name} (details in the Dagster run log, which stays in the installation's home)"


def print_summary(home: Home, console: Console) -> None:
    """One screen: persons, records per source, opted out, quarantined, traced."""
    con = open_read_only(home.warehouse)
    try:
        persons = con.sql("select count(*) from person").fetchall()
        recon = con.sql(
            "select source, sum(rows_in), sum(loaded), sum(quarantined), sum(opted_out), sum(excluded) "
            "from reconciliation group by source order by source"
        ).fetchall()
        links = con.sql("select link_method, count(*) from person group by 1 order by 2 desc").fetchall()
    finally:
        con.close()
    table = Table(title="Load summary (rows)")
    for col in ("source", "in", "loaded", "quarantined", "opted out", "excluded"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for row in recon:
        table.add_row(str(row[0]), *(f"{int(v or 0):,}" for v in row[1:]))
    console.print(table)
    console.print(
        f"Persons in warehouse: {int(persons[0][0] if persons else 0):,}  |  link methods: "
        + ", ".join(f"{m} {n:,}" for m, n in links)
    )
    console.print(f"Warehouse (read-only for analysts): {home.warehouse}")
