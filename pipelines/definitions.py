"""The Dagster code location "phm": the domain folders under `pipelines/defs/`, merged, with resources.

`dg dev`, `dagster dev -w workspace.yaml` and `phm ui` load `defs` from here. It is the entry point
for Dagster, so it is where the environment is read (once): PHM_DATA and PHM_HOME say which
installation to act on (default: the embedded demo under .phm/), PHM_ENV says whether dev keys may be
generated ("dev", the default) or must be supplied ("production").

`load_from_defs_folder` finds the project through `[tool.dg]` in pyproject.toml (an editable install,
as `make setup` does). The resources are bound here rather than in a domain folder: every domain reads
the installation's folders (`paths`), and both pseudonymisation and release need the keys.
"""

import os
from pathlib import Path

import dagster as dg

from core.layout import DEFAULT_DATA, DEFAULT_HOME
from pipelines.resources import DbsMailbox, PhmKeys, PhmPaths


def build_definitions(
    data: str, home: str, key_mode: str = "dev", dbs_answer: DbsMailbox | None = None
) -> dg.Definitions:
    """Definitions for one installation; tests and `phm run` call this with their own folders.

    ``dbs_answer``: who answers the DBS trace request during the load (the demo's synthetic service).
    """
    keys = PhmKeys(mode=key_mode)
    if key_mode != "dev":
        keys = PhmKeys(
            mode=key_mode, token_key=dg.EnvVar("PHM_TOKEN_KEY"), vault_key=dg.EnvVar("PHM_VAULT_KEY")
        )
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(
            resources={
                "paths": PhmPaths(data=data, home=home),
                "keys": keys,
                "dbs": dbs_answer or DbsMailbox(),
            },
            # Assets materialised from the UI outside `load_all` run in-process too (pipelines/defs/jobs.py).
            executor=dg.in_process_executor,
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(
        data=os.environ.get("PHM_DATA", str(DEFAULT_DATA)),
        home=os.environ.get("PHM_HOME", str(DEFAULT_HOME)),
        key_mode=os.environ.get("PHM_ENV", "dev"),
    )
