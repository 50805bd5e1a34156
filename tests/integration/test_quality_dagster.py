"""The Dagster face of quality/: definitions load, blocking follows severity, the report asset runs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import dagster as dg

from core.layout import Home
from pipelines.defs.quality.assets import quality_assets
from pipelines.defs.quality.checks import check_name, quality_checks
from pipelines.keys import REPORT_KEY, pseudonymised_key, warehouse_key
from pipelines.resources import PhmPaths
from quality import before_publish_hook, load_config
from tests.fixtures.staged_home import BUILT_AT, write_home


def test_definitions_load_with_checks_on_sources_and_warehouse(tmp_path: Path) -> None:
    paths = PhmPaths(data=str(tmp_path), home=str(tmp_path / "home"))
    defs = dg.Definitions(assets=quality_assets, asset_checks=quality_checks, resources={"paths": paths})
    dg.Definitions.validate_loadable(defs)
    specs = {(s.asset_key, s.name): s for c in quality_checks for s in c.check_specs}
    config = load_config()
    assert len(specs) == len(config.expectations)
    for e in config.expectations:
        key = pseudonymised_key(e.target) if e.scope == "source" else warehouse_key(e.target)
        assert specs[(key, check_name(e.asset, e.id))].blocking == (e.severity == "block")


def test_report_asset_writes_html_and_links_it(tmp_path: Path) -> None:
    from linkage.warehouse import build_warehouse

    home = tmp_path / "home"
    dirs = write_home(home)
    hook = before_publish_hook(Home(home), run_id="R7", run_at=BUILT_AT, as_of=date(2025, 3, 1), engine="sql")
    build_warehouse(dirs["staged"], dirs["ops"], dirs["reference"], home / "warehouse" / "warehouse.duckdb",
                    load_id="L1", built_at=datetime(2025, 3, 1), codelists_dir=dirs["codelists"],
                    before_publish=hook, after_publish=hook.save)  # fmt: skip
    result = dg.materialize(quality_assets, resources={"paths": PhmPaths(data=str(tmp_path), home=str(home))})
    assert result.success
    (mat,) = result.asset_materializations_for_node(REPORT_KEY.to_python_identifier())
    path = Path(str(mat.metadata["path"].value))
    assert path == home / "reports" / "dq_R7.html" and path.is_file()
