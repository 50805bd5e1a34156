"""The Dagster code location loads, with the assets, job, sensor and resources the UI shows."""

from __future__ import annotations

import dagster as dg

from connectors.spec import EXTRACTS


def test_definitions_load() -> None:
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {f"identifiable/{s}" for s in EXTRACTS} <= keys
    assert {f"pseudonymised/{s}" for s in EXTRACTS} <= keys
    assert {"identifiable/opt_out_register", "identifiable/gp_master", "warehouse/warehouse"} <= keys
    assert repo.has_job("load_all")
    assert [s.name for s in repo.sensor_defs] == ["landing_sensor"]


def test_ingest_assets_are_monthly_partitioned() -> None:
    from pipelines.definitions import defs

    graph = defs.get_repository_def().asset_graph
    for source in EXTRACTS:
        node = graph.get(dg.AssetKey(["identifiable", source]))
        assert node.partitions_def is not None
        assert node.partitions_def.name == "extract_month"  # type: ignore[attr-defined]
