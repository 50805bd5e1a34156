"""The Dagster code location: `dagster dev -w workspace.yaml` loads `defs` from here.

This module is the entry point for Dagster, so it is where the environment is read (once): PHM_DATA
and PHM_HOME say which installation to act on (default: the embedded demo under .phm/), PHM_ENV says
whether dev keys may be generated ("dev", the default) or must be supplied ("production").
"""

import os

import dagster as dg

from core.layout import DEFAULT_DATA, DEFAULT_HOME
from pipelines.assets_cohort import cohort_assets
from pipelines.assets_ingest import ingest_assets, opt_out_register
from pipelines.assets_link import gp_master, pseudonymised_assets, token_map, traced, warehouse
from pipelines.assets_quality import quality_assets, quality_checks
from pipelines.assets_release import release_assets, release_jobs
from pipelines.partitions import extract_months
from pipelines.resources import PhmKeys, PhmPaths
from pipelines.sensors import landing_sensor

load_all = dg.define_asset_job("load_all", selection=dg.AssetSelection.all(), partitions_def=extract_months)


def build_definitions(data: str, home: str, key_mode: str = "dev") -> dg.Definitions:
    """Definitions for one installation; tests and `phm run` call this with their own folders."""
    keys = PhmKeys(mode=key_mode)
    if key_mode != "dev":
        keys = PhmKeys(
            mode=key_mode, token_key=dg.EnvVar("PHM_TOKEN_KEY"), vault_key=dg.EnvVar("PHM_VAULT_KEY")
        )
    return dg.Definitions(
        assets=[
            opt_out_register,
            *ingest_assets,
            gp_master,
            traced,
            token_map,
            *pseudonymised_assets,
            warehouse,
            *quality_assets,
            *cohort_assets,
            *release_assets,
        ],
        asset_checks=quality_checks,
        jobs=[load_all, *release_jobs],  # release_cohort is an op job: never part of load_all
        sensors=[landing_sensor],
        resources={"paths": PhmPaths(data=data, home=home), "keys": keys},
    )


defs = build_definitions(
    data=os.environ.get("PHM_DATA", str(DEFAULT_DATA)),
    home=os.environ.get("PHM_HOME", str(DEFAULT_HOME)),
    key_mode=os.environ.get("PHM_ENV", "dev"),
)
