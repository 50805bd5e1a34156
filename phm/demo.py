"""The embedded demo: synthetic data generated on first use of `phm run`'s default folders.

Here in the CLI, not in `pipelines/`: no product package imports the generator (`synthetic`), so a
deployment that reads real extracts carries none of it on its load path.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from core.layout import DEFAULT_DATA

if TYPE_CHECKING:
    from pipelines.resources import DbsMailbox


def ensure_demo_data(data: Path, persons: int, console: Console) -> None:
    """Generate the demo ICS on first use of the embedded defaults; refuse a missing custom folder."""
    if (data / "landing").is_dir():
        return
    if data.resolve() != DEFAULT_DATA.resolve():
        raise FileNotFoundError(
            f"no landing folder at {data / 'landing'} (generate one with `phm generate --out {data}`)"
        )
    from phm.progress import progress_bar
    from synthetic import GeneratorConfig, generate

    console.print(f"No data yet: generating the demo ICS ({persons:,} synthetic people) into {data}")
    with progress_bar("generate") as progress:
        generate(GeneratorConfig(persons=persons), data, progress=progress)


def demo_national_service(data: Path) -> DbsMailbox | None:
    """On the embedded defaults, the synthetic national service answers the load's DBS trace request
    during the run (`synthetic.national_service`); elsewhere nobody does, as with a real DBS mailbox,
    and the response dropped into landing/dbs/ is applied by the next run."""
    if data.resolve() != DEFAULT_DATA.resolve() or not (data / "truth").is_dir():
        return None
    from pipelines.resources import DbsMailbox
    from synthetic.national_service import answer_request

    return DbsMailbox(answer=partial(answer_request, truth=data / "truth"))
