"""`phm run`: materialise every asset headless, in-process, against a persistent Dagster home.

Runs exactly the job the Dagster UI runs (`load_all` over every month found in landing), so a run
from the terminal shows up in the UI's run history and asset catalogue too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
from dagster_shared.error import SerializableErrorInfo
from rich.console import Console
from rich.table import Table

from connectors.landing import Entry, delivered_months, inventory, loaded_months
from core.disclosure import metadata_count
from core.errors import Refused, UsageError
from core.layout import Home
from linkage.warehouse import open_read_only
from load import books_by_source, discard_load
from pipelines.partitions import RANGE_END, RANGE_START, SKIP_TAG, add_months
from pipelines.resources import DbsMailbox

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class PipelineFailed(Refused):
    """The run failed; the message lists the failing steps (file and problem, no patient values)."""


def run_pipeline(
    *,
    data: Path,
    home: Path,
    console: Console,
    months: list[str] | None = None,
    skip: tuple[str, ...] = (),
    skip_unloaded: bool = False,
    dbs: DbsMailbox | None = None,
) -> list[Entry]:
    """Run `load_all` over the months in DATA/landing (all, or ``months``) and print a summary
    (`phm run`; the CLI makes the demo data first when it is missing, see phm/demo.py).

    Returns the inventory of landing (`connectors.landing`); the CLI exits 1 when an entry was not
    loaded and not acknowledged (``skip`` by path, or ``skip_unloaded`` for all).
    """
    data, home = data.resolve(), home.resolve()
    h = Home(home).prepare()
    os.environ["DAGSTER_HOME"] = str(h.dagster_home)  # the CLI is an entry point: set once, here
    with dg.DagsterInstance.get() as instance:
        loaded = load(
            data=data,
            home=h,
            instance=instance,
            key_mode=os.environ.get("PHM_ENV", "dev"),
            console=console,
            months=months,
            skip=["*"] if skip_unloaded else list(skip),
            dbs=dbs,
        )
    console.print(f"Loaded {len(loaded)} months ({', '.join(loaded)}).")
    print_summary(h, console)
    return inventory(data / "landing", months, _acknowledged(data / "landing", months, skip, skip_unloaded))


def _acknowledged(landing: Path, months: list[str] | None, skip: tuple[str, ...], every: bool) -> list[str]:
    return [e.path for e in inventory(landing, months) if e.unloaded] if every else list(skip)


def load(
    *,
    data: Path,
    home: Home,
    instance: dg.DagsterInstance,
    key_mode: str = "dev",
    console: Console | None = None,
    months: list[str] | None = None,
    skip: list[str] | None = None,
    dbs: DbsMailbox | None = None,
) -> list[str]:
    """Run the `load_all` job over the months delivered to DATA/landing (all, or those of ``months``
    that were delivered); raise PipelineFailed on failure. Returns the months loaded."""
    from pipelines.definitions import build_definitions

    landing = data / "landing"
    entries = inventory(landing, months)
    wanted = loaded_months(entries)
    if not wanted:
        raise FileNotFoundError(f"no extract files to load under {landing}")
    if wanted != [m for m in delivered_months(landing) if wanted[0] <= m <= wanted[-1]]:
        raise UsageError("--months must be a run of consecutive delivered months (a partition range)")
    months = wanted
    defs = build_definitions(data=str(data), home=str(home.root), key_mode=key_mode, dbs_answer=dbs)
    add_months(instance, delivered_months(landing))
    if console is not None:
        console.print(f"Loading {len(months)} months ({months[0]} to {months[-1]}) from {landing}")
    result = defs.resolve_job_def("load_all").execute_in_process(
        instance=instance,
        tags={RANGE_START: months[0], RANGE_END: months[-1], SKIP_TAG: json.dumps(skip or [])},
        run_config=QUIET_LOGS,
        raise_on_error=False,
    )
    state = _publish_state(result, home)
    blocking = [
        f"blocking check failed: {e.description or e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    if blocking:
        raise PipelineFailed(
            f"data quality stopped the run; downstream assets were not materialised; {state}.\n"
            + "\n".join(blocking)
        )
    if not result.success:
        failures = [
            f"{e.step_key}: {_root_message(e.step_failure_data.error)}"
            for e in result.all_events
            if e.is_step_failure and e.step_failure_data is not None
        ]
        raise PipelineFailed(f"run failed; {state}.\n" + "\n".join(failures or ["(see Dagster UI)"]))
    _refuse_unwritten_transparency(result, state)
    return months


def _refuse_unwritten_transparency(result: dg.ExecuteInProcessResult, state: str) -> None:
    """A governance register that was refused (malformed, edited since signing) fails the run: the
    transparency report must not be skipped silently. Only "no bundle installed" is a plain state."""
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        if mat.asset_key != dg.AssetKey(["reports", "transparency"]):
            continue
        written = mat.metadata.get("written")
        reason = mat.metadata.get("register_error")
        code = getattr(reason, "value", None)
        if getattr(written, "value", True) is False and code not in (None, "no_bundle_installed"):
            raise PipelineFailed(
                f"governance register refused ({code}); the transparency report was not written. "
                f"{state[0].upper()}{state[1:]}; fix or re-sign the register (phm governance ...)"
            )


def _publish_state(result: dg.ExecuteInProcessResult, home: Home) -> str:
    """What the run did to the published warehouse, truthfully: published only by its last step
    (`published_warehouse`); a run that failed before it leaves the file as it was, and its build is
    dropped here."""
    if result.asset_materializations_for_node("published_warehouse"):
        return "this run's warehouse was published"
    discard_load(home, result.run_id)
    return "the published warehouse is unchanged"


# Our own errors, whose messages are written to name files, columns, reasons and counts only. Any other
# exception's message may quote a data value (e.g. a parser echoing a field), so only its type is shown.
SAFE_ERRORS = frozenset({
    "ExtractFileError", "ReconciliationError", "Failure", "KeyUnavailableError", "WeakKeyError",
    "VaultTamperError", "WarehouseCheckError", "IdentifierFound", "FileNotFoundError", "RegisterError",
    "DiskFull", "BuildInUse",
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
    """One screen: persons, records per source, opted out, quarantined, traced. The rows per source
    are the exact books (the engineer's terminal), not the warehouse's published `reconciliation`."""
    recon = books_by_source(home).rows()
    con = open_read_only(home.warehouse)
    try:
        persons = con.sql("select count(*) from person").fetchall()
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
    _print_national_trace(home, console)
    console.print(f"Warehouse (read-only for analysts): {home.warehouse}")


def _print_national_trace(home: Home, console: Console) -> None:
    """The DBS round trip of the load (distinct untraced descriptions), as the trace stage recorded it."""
    if not home.dbs_status.exists():
        return
    counts = json.loads(home.dbs_status.read_text())
    shown = {k: metadata_count(v) for k, v in counts.items()}
    console.print(
        "National tracing (DBS): "
        + ", ".join(f"{k.removeprefix('dbs/').replace('_', ' ')} {v}" for k, v in shown.items())
        + (f"  |  request file in {home.dbs_outbox}" if counts.get("dbs/requested") else "")
    )
    if counts.get("dbs/awaiting_response"):
        console.print(
            "  Not an error: records awaiting a DBS response stay untraced until the response is dropped "
            "into landing/dbs/ (docs/extracts.md); the next run applies it."
        )
