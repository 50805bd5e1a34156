"""Stage 7: build the analyst warehouse from the pseudonymised zone, quality checks included, and swap it in."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import duckdb

import quality
from core.layout import Home
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
) -> WarehouseStats:
    """Rebuild the analyst warehouse from the pseudonymised zone and swap it in atomically.

    With `quality_checks`, every data quality expectation runs on the building file before the swap and
    its counts land in `dq_results` (a failing check never stops the publish: Dagster's blocking checks
    stop what comes downstream). `timings`, if given, receives the seconds the quality checks took.
    """
    discard_token_map(home)  # every source is pseudonymised by now: the clear map must not outlive the load
    hook = None
    if quality_checks:
        hook = quality.before_publish_hook(home, run_id=load_id, run_at=built_at, as_of=built_at.date())

    def timed(con: duckdb.DuckDBPyConnection) -> None:
        assert hook is not None
        start = time.perf_counter()
        hook(con)
        if timings is not None:
            timings["quality"] = timings.get("quality", 0.0) + time.perf_counter() - start

    return build_warehouse(
        staged_dir=home.pseudo_staged_dir,
        ops_dir=home.ops_dir,
        reference_dir=landing / "reference",
        out_path=home.warehouse,
        load_id=load_id,
        built_at=built_at,
        codelists_dir=CODELISTS_DIR,
        before_publish=timed if hook is not None else None,
        after_publish=hook.save if hook is not None else None,
        # The identifiable side hands the scan the GP master's names as keyed digests only.
        identifier_names=NameDigests.from_gp_master(home.gp_master),
    )
