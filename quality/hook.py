"""Quality inside a warehouse build: every check on the building file before it is published, the
history kept only once it is."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from core.layout import Home
from linkage.linkage_quality import linkage_rates
from quality.checks import run_source_checks, run_warehouse_checks
from quality.config import QualityConfig
from quality.engine import Engine
from quality.history import save_history, save_linkage_rates
from quality.linkage_fairness import fairness_result
from quality.results import QualityRun
from quality.warehouse_tables import write_dq_results, write_linkage_rates


class QualityHook:
    """Checks for a warehouse build: called on the building file (`build_warehouse(before_publish=)`)
    it runs every check and writes `dq_results` and `linkage_rates` into that file; `save()`, called
    once the file is published (`after_publish=`), keeps the run in the history. A build that fails
    after the checks therefore leaves no history behind for the next load's volume checks to trust.
    It never raises for a failing check (a blocking outcome stops downstream assets through the
    Dagster checks, not the publish)."""

    def __init__(
        self, home: Home, *, run_id: str, run_at: datetime, as_of: date,
        config: QualityConfig | None = None, engine: Engine = "auto",
    ) -> None:  # fmt: skip
        self.home, self.run_id, self.run_at, self.as_of = home, run_id, run_at, as_of
        self.config, self.engine = config, engine
        self.run: QualityRun | None = None
        self.rates: pl.DataFrame | None = None

    def __call__(self, con: duckdb.DuckDBPyConnection) -> None:
        common = {"run_id": self.run_id, "run_at": self.run_at, "as_of": self.as_of, "config": self.config,
                  "engine": self.engine}  # fmt: skip
        run = run_source_checks(con, self.home, use_staged_tables=True, **common)  # type: ignore[arg-type]
        run.results += run_warehouse_checks(con, **common).results  # type: ignore[arg-type]
        self.run, self.rates = run, linkage_rates(con, self.home.pseudo_staged_dir)
        run.results.append(fairness_result(self.rates, run_id=self.run_id, run_at=self.run_at))
        write_dq_results(con, run.frame())
        write_linkage_rates(con, self.rates)

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
) -> QualityHook:
    """A `QualityHook`: pass it as `before_publish` and its `save` as `after_publish` to the build."""
    return QualityHook(home, run_id=run_id, run_at=run_at, as_of=as_of, config=config, engine=engine)
