"""A rich progress bar that library code can drive through a plain `(stage, fraction)` callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ProgressCallback = Callable[[str, float], None]


@contextmanager
def progress_bar(title: str) -> Iterator[ProgressCallback]:
    """Yield a callback `progress(stage, fraction)`; draws on stderr only when it is a terminal."""
    console = Console(stderr=True)
    with Progress(
        TextColumn(f"{title} [progress.description]{{task.description}}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    ) as bar:
        task = bar.add_task("", total=1.0)

        def update(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=max(0.0, min(1.0, fraction)))

        yield update
