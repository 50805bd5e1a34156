"""`phm reports serve`: the reports folder (DQ report, model card, transparency report, overview site)
over HTTP on 127.0.0.1, so the links in the Dagster UI open in a browser (file:// links do not)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from core.errors import Refused, UsageError
from core.layout import DEFAULT_HOME, Home

__all__ = ["register_reports"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def register_reports(app: typer.Typer) -> None:
    """Add the `reports` command group to `app`."""
    from reports import DEFAULT_PORT

    group = typer.Typer(help="Human-facing reports: serve HOME/reports/ on 127.0.0.1.", no_args_is_help=True)

    @group.command("serve")
    def serve(
        home: Annotated[Path, typer.Option("--home", help="Installation home.")] = DEFAULT_HOME,
        port: Annotated[
            int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")
        ] = DEFAULT_PORT,
    ) -> None:
        """Serve HOME/reports/ on 127.0.0.1 until interrupted (Ctrl-C); prints the overview's URL."""
        from reports.serve import HOST, server

        if not 0 <= port <= 65535:
            raise UsageError(f"--port {port} is not a port number (0-65535)")
        reports = Home(home).reports
        if not reports.is_dir():
            raise Refused(f"{reports} does not exist: run `phm run` first")
        try:
            httpd = server(reports, port)
        except OSError as exc:
            raise Refused(f"cannot serve on {HOST}:{port}: {exc.strerror}") from None
        bound = httpd.server_address[1]
        # SIGTERM (a supervisor, `kill`, a test's terminate()) stops the server as Ctrl-C does. Set
        # explicitly: a process started with SIGINT ignored (`nohup ... &`) that ran Dagster in-process
        # has SIGTERM ignored too (Dagster maps SIGTERM to SIGINT's handler), and children inherit that.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            typer.echo(
                f"serving {reports} at http://{HOST}:{bound}/site/index.html (Ctrl-C to stop)", err=False
            )
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()

    app.add_typer(group, name="reports")
