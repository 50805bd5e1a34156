"""Serve `HOME/reports/` on 127.0.0.1 with the standard library's http.server, and the URLs of its pages.

Only files under the reports folder are served: a path that resolves outside it (`..`, a symlink) is
404, and folders are never listed (a folder with an index.html serves that page). Bound to the
loopback interface only: the pages are for the person at this machine (or a tunnel they set up).
"""

from __future__ import annotations

import http.server
import os
from functools import partial
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def page_url(reports: Path, page: Path, *, port: int = DEFAULT_PORT) -> str:
    """The URL `phm reports serve` gives `page` (a file under `reports`)."""
    return f"http://{HOST}:{port}/{page.resolve().relative_to(reports.resolve()).as_posix()}"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        candidate = Path(super().translate_path(path))
        root = Path(self.directory).resolve()
        resolved = candidate.resolve()
        if resolved != root and root not in resolved.parents:
            return str(root / "__outside__")  # does not exist: 404
        return str(candidate)

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "No listing")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request line can name a page; keep the terminal for the URL only


def server(reports: Path, port: int = DEFAULT_PORT) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `reports` on 127.0.0.1:`port` (0: any free port), not yet serving."""
    handler = partial(_Handler, directory=str(reports))
    return http.server.ThreadingHTTPServer((HOST, port), handler)
