"""Quality inside a warehouse build: every check on the building file before it is published, the
history kept only once it is. Source checks the load's Dagster steps already ran on the same inputs are
taken from what they kept (`quality.kept_results`), not run again."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from core.layout import Home
from linkage.linkage_quality import linkage_rates
from quality.checks import run_source_checks, run_warehouse_checks
from quality.config import QualityConfig, load_config
from quality.engine import Engine
from quality.expectations import codelist_rows
from quality.history import save_history, save_linkage_rates
from quality.kept_results import inputs_key, take_source_run
from quality.linkage_fairness import fairness_result
from quality.results import QualityRun, naive_utc
from quality.warehouse_tables import write_dq_results, write_linkage_rates


class QualityHook:
    """Checks for a warehouse build: called on the building file (`build_warehouse(before_publish=)`)
    it runs every check and writes `dq_results` and `linkage_rates` into that file; `save()`, called
    once the file is published (`after_publish=`), keeps the run in the history. A build that fails
    after the checks therefore leaves no history behind for the next load's volume checks to trust.
    It never raises for a failing check (a blocking outcome stops downstream assets through the
    Dagster checks, not the publish).

    With `load` (the Dagster run id), a source whose `dq_<source>` checks kept their counts for this
    load from unchanged inputs is not evaluated again; `reused` names those sources."""

    def __init__(
        self, home: Home, *, run_id: str, run_at: datetime, as_of: date,
        config: QualityConfig | None = None, engine: Engine = "auto", load: str | None = None,
    ) -> None:  # fmt: skip
        self.home, self.run_id, self.run_at, self.as_of = home, run_id, run_at, as_of
        self.config, self.engine, self.load = config, engine, load
        self.run: QualityRun | None = None
        self.rates: pl.DataFrame | None = None
        self.reused: list[str] = []

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        common = {"run_id": self.run_id, "run_at": self.run_at, "as_of": self.as_of, "config": self.config,
                  "engine": self.engine}  # fmt: skip
        run = self._source_run(con)
        run.results += run_warehouse_checks(con, **common).results  # type: ignore[arg-type]
        self.run, self.rates = run, linkage_rates(con, self.home.pseudo_staged_dir)
        run.results.append(fairness_result(self.rates, run_id=self.run_id, run_at=self.run_at))
        write_dq_results(con, run.frame())
        write_linkage_rates(con, self.rates)

    def _source_run(self, con: duckdb.DuckDBPyConnection) -> QualityRun:
        """Every source's results: the kept ones of this load where still valid, the rest evaluated on
        the building file's `stg_<source>` tables; in configuration order, as one evaluation gives."""
        config = self.config or load_config()
        run_at = naive_utc(self.run_at)
        kept: dict[str, QualityRun] = {}
        load = self.load
        codelists = codelist_rows(con) if load else []
        for source in config.source_targets if load else []:
            key = inputs_key(self.home, source, as_of=self.as_of, engine=self.engine, config=config,
                             codelists=codelists)  # fmt: skip
            got = take_source_run(
                self.home, source, load=load or "", key=key, run_id=self.run_id, run_at=run_at
            )
            if got is not None:
                kept[source] = got
        self.reused = sorted(kept)
        missing = [s for s in config.source_targets if s not in kept]
        fresh = QualityRun(self.run_id, run_at)
        if missing:
            fresh = run_source_checks(
                con, self.home, run_id=self.run_id, run_at=self.run_at, as_of=self.as_of, sources=missing,
                config=config, use_staged_tables=True, engine=self.engine,
            )  # fmt: skip
        run = QualityRun(self.run_id, run_at)
        order = {(e.asset, e.id): n for n, e in enumerate(config.expectations)}
        results = fresh.results + [r for k in kept.values() for r in k.results]
        run.results = sorted(results, key=lambda r: order.get((r.asset, r.expectation), 0))
        volumes = [
            kept[s].volumes if s in kept else fresh.volumes.filter(pl.col("source") == s)
            for s in config.source_targets
        ]
        run.volumes = pl.concat(volumes) if volumes else run.volumes
        return run

    def save(self) -> None:
        """Keep the published run's results, volumes and linkage rates in the history (ops zone)."""
        if self.run is None or self.rates is None:
            raise RuntimeError("QualityHook.save() before the checks ran")
        save_history(self.home, self.run)
        save_linkage_rates(self.home, self.run_id, self.rates)


def before_publish_hook(
    home: Home,
    *,
    run_id: str,
    run_at: datetime,
    as_of: date,
    config: QualityConfig | None = None,
    engine: Engine = "auto",
    load: str | None = None,
) -> QualityHook:
    """A `QualityHook`: pass it as `before_publish` and its `save` as `after_publish` to the build;
    `load`: the Dagster run whose source checks may have kept their results (`quality.kept_results`)."""
    return QualityHook(
        home, run_id=run_id, run_at=run_at, as_of=as_of, config=config, engine=engine, load=load
    )
