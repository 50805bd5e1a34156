"""Data quality as Dagster asset checks, plus the per-run HTML report asset.

Thin wrappers over `quality/`: one multi-asset check per pseudonymised source (its source-scope
expectations, read from the pseudonymised staged files and the counts-only inputs), one on the
warehouse (read from its `dq_results` table, written during the build by
`quality.before_publish_hook`; computed on the published file if the build did not write it), and the
report asset. A `block` expectation is a blocking check: when it fails (severity ERROR) downstream
assets in the same run do not materialise. A `warn` expectation fails with severity WARN and blocks
nothing. Check metadata carries counts only.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg

from linkage.warehouse import open_read_only
from pipelines.assets_link import WAREHOUSE_KEY, pseudonymised_key
from pipelines.resources import PhmPaths
from quality import (
    CheckResult,
    linkage_markdown,
    load_config,
    results_from_table,
    run_source_checks,
    run_warehouse_checks,
    write_report,
)

REPORT_KEY = dg.AssetKey(["reports", "data_quality"])
_CONFIG = load_config()


def check_name(asset: str, expectation: str) -> str:
    """Dagster check name: the expectation id on a source; `<table>__<id>` on the warehouse."""
    scope, target = asset.split("/", 1)
    return expectation if scope == "source" else f"{target}__{expectation}"


def _result(r: CheckResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name(r.asset, r.expectation),
        passed=r.outcome == "pass",
        severity=dg.AssetCheckSeverity.ERROR if r.severity == "block" else dg.AssetCheckSeverity.WARN,
        description=r.message,
        metadata={
            "rows_evaluated": r.rows_evaluated,
            "rows_failed": r.rows_failed,
            "pass_pct": dg.MetadataValue.float(r.pass_pct if r.pass_pct is not None else 100.0),
            "threshold": dg.MetadataValue.float(r.threshold),
            "category": r.category,
            "outcome": r.outcome,
            "engine": r.engine,
            "run_id": r.run_id,
        },
    )


def _source_check(source: str) -> dg.AssetChecksDefinition:
    key = pseudonymised_key(source)
    specs = [
        dg.AssetCheckSpec(
            name=e.id,
            asset=key,
            blocking=e.severity == "block",
            description=f"[{e.category}] {e.description}".strip(),
        )
        for e in _CONFIG.for_scope("source", source)
    ]

    @dg.multi_asset_check(specs=specs, name=f"dq_{source}", description=f"Data quality of {source}")
    def checks(context: dg.AssetCheckExecutionContext, paths: PhmPaths) -> Iterator[dg.AssetCheckResult]:
        import duckdb

        con = duckdb.connect()
        try:
            run = run_source_checks(
                con, paths.installation(), run_id=context.run.run_id[:12], run_at=datetime.now(UTC),
                as_of=date.today(), sources=[source], config=_CONFIG,
            )  # fmt: skip
        finally:
            con.close()
        for r in run.results:
            yield _result(r, key)

    return checks


def _warehouse_check() -> dg.AssetChecksDefinition:
    expectations = _CONFIG.for_scope("warehouse")
    specs = [
        dg.AssetCheckSpec(
            name=check_name(e.asset, e.id), asset=WAREHOUSE_KEY, blocking=e.severity == "block",
            description=f"[{e.category}] {e.description}".strip(),
        )
        for e in expectations
    ]  # fmt: skip

    @dg.multi_asset_check(specs=specs, name="dq_warehouse", description="Data quality of the warehouse")
    def checks(context: dg.AssetCheckExecutionContext, paths: PhmPaths) -> Iterator[dg.AssetCheckResult]:
        home = paths.installation()
        con = open_read_only(home.warehouse)
        try:
            results = [r for r in results_from_table(con) if r.asset.startswith("warehouse/")]
            if not results:  # the build did not run the hook: check the published file now
                results = run_warehouse_checks(
                    con,
                    run_id=context.run.run_id[:12],
                    run_at=datetime.now(UTC),
                    as_of=date.today(),
                    config=_CONFIG,
                ).results
        finally:
            con.close()
        wanted = {check_name(e.asset, e.id) for e in expectations}
        for r in results:
            if check_name(r.asset, r.expectation) in wanted:
                yield _result(r, WAREHOUSE_KEY)

    return checks


@dg.asset(
    key=REPORT_KEY,
    deps=[WAREHOUSE_KEY],
    group_name="reports",
    kinds={"html"},
    description="Data quality and coverage report for the latest warehouse build (HTML, offline).",
)
def data_quality_report(paths: PhmPaths) -> dg.MaterializeResult:
    home = paths.installation()
    con = open_read_only(home.warehouse)
    try:
        run_ids = [r.run_id for r in results_from_table(con)]
        run_id = run_ids[0] if run_ids else uuid.uuid4().hex[:12]
        path = write_report(con, home, run_id=run_id)
        linkage = linkage_markdown(con, home, run_id)
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "report": dg.MetadataValue.url(path.as_uri()),
            # Match rates by source, ethnic group and IMD quintile (rounded/suppressed counts).
            "linkage_rates": dg.MetadataValue.md(linkage),
        }
    )


quality_checks: list[dg.AssetChecksDefinition] = [
    *(_source_check(s) for s in _CONFIG.source_targets),
    _warehouse_check(),
]
quality_assets: list[dg.AssetsDefinition] = [data_quality_report]
