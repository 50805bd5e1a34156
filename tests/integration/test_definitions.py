"""The Dagster code location "phm" loads, with the assets, checks, jobs, sensor and resources the UI shows."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from connectors.spec import EXTRACTS
from core.disclosure import metadata_count
from core.layout import Home
from linkage.warehouse import TABLES, build_warehouse, open_read_only
from linkage.warehouse.schema import table_columns
from pipelines.definitions import build_definitions
from pipelines.partitions import EXTRACT_MONTHS, RANGE_END, RANGE_START
from pipelines.resources import PhmPaths

ROOT = Path(__file__).resolve().parents[2]
OWNER = "team:ics-data-engineering"
# Tables the cohort step adds to the warehouse (cohort.publish), beside the build's own (TABLES).
COHORT_TABLES = (
    "features", "risk_score", "cohort_member",
    *(f"agg_people_by_{by}" for by in ("practice_code", "pcn_code", "place", "imd_quintile", "ethnic_group", "risk_tier")),
)  # fmt: skip


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from pipelines.definitions import defs as lazy

    loaded = lazy()  # @dg.definitions: what `dg dev` and `dagster dev -w workspace.yaml` call
    assert isinstance(loaded, dg.Definitions)
    return loaded


@pytest.fixture(scope="module")
def repo(defs: dg.Definitions) -> dg.RepositoryDefinition:
    return defs.get_repository_def()


def _spec(repo: dg.RepositoryDefinition, key: dg.AssetKey) -> dg.AssetSpec:
    return repo.assets_defs_by_key[key].specs_by_key[key]


def test_definitions_load(repo: dg.RepositoryDefinition) -> None:
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {f"identifiable/{s}" for s in EXTRACTS} <= keys
    assert {f"pseudonymised/{s}" for s in EXTRACTS} <= keys
    assert {"identifiable/opt_out_register", "identifiable/gp_master", "cohort/published"} <= keys
    assert repo.has_job("load_all") and repo.has_job("release_cohort")
    assert [s.name for s in repo.sensor_defs] == ["landing_sensor"]


def test_code_location_is_named_phm() -> None:
    dg_project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    assert dg_project["code_location_name"] == "phm"
    assert dg_project["code_location_target_module"] == "pipelines.definitions"
    (entry,) = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    assert entry["python_module"]["location_name"] == "phm"


def test_landing_sensor_is_off_by_default(repo: dg.RepositoryDefinition) -> None:
    assert repo.get_sensor_def("landing_sensor").default_status == dg.DefaultSensorStatus.STOPPED


def test_load_job_runs_in_process(repo: dg.RepositoryDefinition) -> None:
    assert repo.get_job("load_all").executor_def is dg.in_process_executor


def test_ingest_assets_are_monthly_partitioned(repo: dg.RepositoryDefinition) -> None:
    for source in EXTRACTS:
        node = repo.asset_graph.get(dg.AssetKey(["identifiable", source]))
        assert node.partitions_def is not None
        assert node.partitions_def.name == "extract_month"  # type: ignore[attr-defined]


def test_one_asset_per_warehouse_table_with_its_columns(repo: dg.RepositoryDefinition) -> None:
    columns = table_columns()
    assert len(TABLES) + len(COHORT_TABLES) == 32
    for table in (*TABLES, *COHORT_TABLES):
        spec = _spec(repo, dg.AssetKey(["warehouse", table]))
        schema = spec.metadata["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchema), table
        assert schema.columns, table
        if table in columns:
            assert [(c.name, c.type) for c in schema.columns] == list(columns[table].items()), table
    assert dg.AssetKey(["warehouse", "warehouse"]) not in repo.assets_defs_by_key


def test_warehouse_tables_show_the_sources_they_are_built_from(repo: dg.RepositoryDefinition) -> None:
    deps = {d.asset_key for d in _spec(repo, dg.AssetKey(["warehouse", "apc_spell"])).deps}
    assert deps == {dg.AssetKey(["pseudonymised", "apc"])}
    person = {d.asset_key for d in _spec(repo, dg.AssetKey(["warehouse", "person"])).deps}
    assert person == {dg.AssetKey(["pseudonymised", s]) for s in EXTRACTS}
    assert {d.asset_key for d in _spec(repo, dg.AssetKey(["warehouse", "risk_score"])).deps} == {
        dg.AssetKey(["cohort", "scores"])
    }


def test_declared_columns_match_what_the_build_creates(tmp_path: Path) -> None:
    """linkage.warehouse.schema.table_columns (what the catalogue shows) against an empty build."""
    out = tmp_path / "w.duckdb"
    build_warehouse(
        tmp_path / "s", tmp_path / "o", tmp_path / "r", out, load_id="L", built_at=datetime(2026, 1, 1)
    )
    con = open_read_only(out)
    try:
        built: dict[str, dict[str, str]] = {}
        query = (
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = 'warehouse' ORDER BY table_name, column_index"
        )
        for table, column, dtype in con.execute(query).fetchall():
            built.setdefault(table, {})[column] = dtype
    finally:
        con.close()
    assert {t: list(c.items()) for t, c in built.items()} == {
        t: list(c.items()) for t, c in table_columns().items()
    }


def test_every_asset_has_an_owner_and_a_zone(repo: dg.RepositoryDefinition) -> None:
    def zone(key: dg.AssetKey) -> str:
        if key == dg.AssetKey(["reports", "transparency"]):
            return "release"
        return "identifiable" if key.path[0] == "identifiable" else "pseudonymised"

    for key in repo.asset_graph.get_all_asset_keys():
        spec = _spec(repo, key)
        assert spec.owners == [OWNER], key
        assert spec.tags.get("zone") == zone(key), key


def test_model_and_cohort_checks_exist(repo: dg.RepositoryDefinition) -> None:
    checks = {(k.asset_key.to_user_string(), k.name) for k in repo.asset_graph.asset_check_keys}
    assert {
        ("cohort/risk_model", "auroc_within_bounds"),
        ("cohort/risk_model", "calibration_slope_within_bounds"),
        ("cohort/published", "cohort_sizes_within_bounds"),
    } <= checks
    # Warehouse data quality checks sit on the table they test.
    assert any(a.startswith("warehouse/") and a != "warehouse/warehouse" for a, _ in checks)


def test_each_partition_carries_its_own_row_count(tiny_ics: Path, tmp_path: Path) -> None:
    source, months = "apc", ["2026-08", "2026-09", "2026-10"]  # the tiny ICS's three months
    home = Home(tmp_path / "home").prepare()
    defs = build_definitions(data=str(tiny_ics), home=str(home.root))
    key = dg.AssetKey(["identifiable", source])
    resources = {"paths": PhmPaths(data=str(tiny_ics), home=str(home.root))}
    registers = defs.get_assets_def(dg.AssetKey(["identifiable", "opt_out_register"]))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(EXTRACT_MONTHS, months)
        assert dg.materialize([registers], instance=instance, resources=resources).success
        result = dg.materialize(
            [defs.get_assets_def(key)], instance=instance, resources=resources,
            tags={RANGE_START: months[0], RANGE_END: months[-1]},
        )  # fmt: skip
        assert result.success
        by_partition = {
            m.partition: m.metadata["dagster/row_count"].value
            for m in result.asset_materializations_for_node(key.to_python_identifier())
        }
    staged = {m: pl.read_parquet(home.staged(source, m)).height for m in months}
    # Metadata counts leave the warehouse, so they are published under disclosure control.
    assert by_partition == {m: metadata_count(n) for m, n in staged.items()}
    assert len(set(staged.values())) > 1  # different months, different counts (not the run's total)


def test_model_and_cohort_checks_run_alone_from_the_stored_data(
    loaded: Home, small_ics: Path, defs: dg.Definitions
) -> None:
    """After a load, the checks read the saved model metadata and the warehouse: no asset re-runs."""
    keys = [dg.AssetKey(["cohort", "risk_model"]), dg.AssetKey(["cohort", "published"])]
    resources = {"paths": PhmPaths(data=str(small_ics), home=str(loaded.root))}
    checks = [c for c in defs.asset_checks or [] if any(s.asset_key in keys for s in c.check_specs)]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*(defs.get_assets_def(k) for k in keys), *checks],
            instance=instance, resources=resources, selection=dg.AssetSelection.checks_for_assets(*keys),
        )  # fmt: skip
    assert result.success
    assert result.get_asset_materialization_events() == []
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "auroc_within_bounds",
        "calibration_slope_within_bounds",
        "cohort_sizes_within_bounds",
    }
    sizes = evaluations["cohort_sizes_within_bounds"].metadata
    assert sizes["people"].value > 0
    assert {k for k in sizes if k.startswith("size/")}


def test_the_load_is_published_by_one_step_after_the_cohort_step(repo: dg.RepositoryDefinition) -> None:
    """published_warehouse comes after every table of the build and the cohort step's tables."""
    deps = {d.asset_key for d in _spec(repo, dg.AssetKey(["published_warehouse"])).deps}
    assert deps == {dg.AssetKey(["cohort", "published"]), *(dg.AssetKey(["warehouse", t]) for t in TABLES)}
