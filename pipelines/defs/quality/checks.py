"""Data quality as Dagster asset checks (the HTML report asset is in `assets.py` beside this).

Thin wrappers over `quality/`: one multi-asset check per pseudonymised source (its source-scope
expectations, read from the pseudonymised staged files and the counts-only inputs; their counts are
kept for the run, `quality.kept_results`, so the build's hook does not evaluate them again), and one over the
warehouse whose checks sit on the table each expectation names (`warehouse/<table>`; results read
from the `dq_results` table, written during the build by `quality.before_publish_hook`; computed on
the published file if the build did not write it). A `block` expectation is a blocking check: when it fails (severity ERROR) downstream
assets in the same run do not materialise. A `warn` expectation fails with severity WARN and blocks
nothing. Check metadata carries counts only.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg

import load
from linkage.warehouse import open_read_only
from pipelines.keys import pseudonymised_key, warehouse_key
from pipelines.resources import PhmPaths
from quality import (
    CheckResult,
    codelist_rows,
    inputs_key,
    keep_source_run,
    load_config,
    results_from_table,
    run_source_checks,
    run_warehouse_checks,
)

_CONFIG = load_config()


def check_name(asset: str, expectation: str) -> str:
    """Dagster check name: the expectation id on a source; `<table>__<id>` on a warehouse table."""
    scope, target = asset.split("/", 1)
    return expectation if scope == "source" else f"{target}__{expectation}"


def check_asset_key(asset: str) -> dg.AssetKey:
    """The asset an expectation's checks sit on: `source/<s>` -> pseudonymised/<s>; `warehouse/<t>` ->
    the warehouse table itself."""
    scope, target = asset.split("/", 1)
    return pseudonymised_key(target) if scope == "source" else warehouse_key(target)


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

        home, as_of = paths.installation(), date.today()
        con = duckdb.connect()
        try:
            # Keyed before the checks read anything: a file changed meanwhile makes the build recompute.
            inputs = inputs_key(home, source, as_of=as_of, engine="auto", config=_CONFIG,
                                codelists=codelist_rows(con))  # fmt: skip
            run = run_source_checks(
                con, home, run_id=context.run.run_id[:12], run_at=datetime.now(UTC), as_of=as_of,
                sources=[source], config=_CONFIG,
            )  # fmt: skip
        finally:
            con.close()
        # The build's quality hook takes these counts instead of evaluating the source again.
        keep_source_run(home, source, run, load=context.run.run_id, key=inputs)
        for r in run.results:
            yield _result(r, key)

    return checks


def _warehouse_check() -> dg.AssetChecksDefinition:
    expectations = _CONFIG.for_scope("warehouse")
    specs = [
        dg.AssetCheckSpec(
            name=check_name(e.asset, e.id), asset=check_asset_key(e.asset), blocking=e.severity == "block",
            description=f"[{e.category}] {e.description}".strip(),
        )
        for e in expectations
    ]  # fmt: skip

    @dg.multi_asset_check(
        specs=specs, name="dq_warehouse", description="Data quality of the warehouse tables"
    )
    def checks(context: dg.AssetCheckExecutionContext, paths: PhmPaths) -> Iterator[dg.AssetCheckResult]:
        home = paths.installation()
        # This load's build (checked before it is published: a blocking failure stops the publish).
        con = open_read_only(load.warehouse_as_built(home, context.run.run_id))
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
                yield _result(r, check_asset_key(r.asset))

    return checks


quality_checks: list[dg.AssetChecksDefinition] = [
    *(_source_check(s) for s in _CONFIG.source_targets),
    _warehouse_check(),
]
