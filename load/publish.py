"""Stage 7: build the analyst warehouse from the pseudonymised zone, quality checks included, and swap it in
(or, inside a load that publishes everything at its end, leave it in the load's private build file)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import duckdb

import quality
from core.faults import pause_point
from core.layout import Home
from core.publish import build_path, clean_stale_builds, discard, publish_build
from linkage.warehouse import WarehouseStats, build_warehouse
from load.token_map import discard_token_map
from pseudonymisation.name_digests import NameDigests

CODELISTS_DIR = Path(__file__).resolve().parents[1] / "codelists"


def publish_warehouse(
    home: Home,
    landing: Path,
    load_id: str,
    *,
    built_at: datetime,
    quality_checks: bool = True,
    timings: dict[str, float] | None = None,
    build: Path | None = None,
    checks_run: str | None = None,
) -> WarehouseStats:
    """Rebuild the analyst warehouse from the pseudonymised zone and swap it in atomically.

    With `quality_checks`, every data quality expectation runs on the building file before the swap and
    its counts land in `dq_results` (a failing check never stops the publish: Dagster's blocking checks
    stop what comes downstream). `timings`, if given, receives the seconds the quality checks took.
    With `build` (`core.publish.build_path(home.warehouse, load)`), the warehouse is made in that private
    file and not published: the load adds its cohort tables and publishes it (`core.publish.publish_build`).
    `checks_run`: the Dagster run whose source checks kept their counts (`quality.kept_results`).
    """
    discard_token_map(home)  # every source is pseudonymised by now: the clear map must not outlive the load
    hook = None
    if quality_checks:
        hook = quality.before_publish_hook(
            home, run_id=load_id, run_at=built_at, as_of=built_at.date(), load=checks_run
        )

    def timed(con: duckdb.DuckDBPyConnection) -> None:
        assert hook is not None
        start = time.perf_counter()
        hook(con)
        if timings is not None:
            timings["quality"] = timings.get("quality", 0.0) + time.perf_counter() - start

    stats = build_warehouse(
        staged_dir=home.pseudo_staged_dir,
        ops_dir=home.ops_dir,
        reference_dir=landing / "reference",
        out_path=home.warehouse,
        load_id=load_id,
        built_at=built_at,
        codelists_dir=CODELISTS_DIR,
        before_publish=timed if hook is not None else None,
        after_publish=hook.save if hook is not None else None,
        build=build,
        # The identifiable side hands the scan the GP master's names as keyed digests only.
        identifier_names=NameDigests.from_gp_master(home.gp_master),
    )
    if build is not None:
        pause_point("warehouse_step_done")
    return stats


def load_build(home: Home, load: str) -> Path:
    """The private build file of one load (`load`: e.g. the Dagster run id), beside the published file."""
    return build_path(home.warehouse, load)


def warehouse_as_built(home: Home, load: str) -> Path:
    """The warehouse a step of `load` reads: the load's build when it has one, else the published file."""
    build = load_build(home, load)
    return build if build.is_file() else home.warehouse


def start_load_build(home: Home) -> list[str]:
    """Before a load builds: remove killed runs' build files (never a live run's); returns their names."""
    return clean_stale_builds(home.warehouse)


def publish_load(home: Home, load: str) -> bool:
    """Publish everything `load` built (warehouse, quality results, cohort tables) in one `os.replace`.

    False when the load has no build (nothing of it to publish); the published file is then unchanged.
    """
    build = load_build(home, load)
    if not build.is_file():
        return False
    publish_build(build, home.warehouse)
    return True


def discard_load(home: Home, load: str) -> None:
    """Drop a failed load's build (if this process holds it); the published warehouse stays as it was."""
    discard(load_build(home, load))
