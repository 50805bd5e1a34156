"""Months are kept in calendar order, so a month older than every loaded one is inside its run's range."""

from __future__ import annotations

import dagster as dg

from pipelines.partitions import EXTRACT_MONTHS, add_months


def test_an_older_month_is_added_in_calendar_order() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        add_months(instance, ["2026-09", "2026-10"])
        add_months(instance, ["2019-01", "2026-10"])
        add_months(instance, ["2026-11"])
        assert list(instance.get_dynamic_partitions(EXTRACT_MONTHS)) == [
            "2019-01",
            "2026-09",
            "2026-10",
            "2026-11",
        ]
