"""GX gets dates as datetime64[ns] where they fit (its vectorised path), and the counts of a date check are
the same in both engines whether or not they fit (dates outside 1677-2262 keep GX's per-value path)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from quality.config import Expectation
from quality.engine import evaluate
from quality.gx import _nanosecond_dates

AS_OF = date(2025, 3, 1)


def _con(dates: list[str | None]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (d DATE)")
    con.executemany("INSERT INTO t VALUES (?)", [(d,) for d in dates])
    return con


def test_dates_become_nanoseconds_when_every_value_fits() -> None:
    con = _con(["2025-01-01", None, "1940-05-01"])
    con.execute("ALTER TABLE t ADD COLUMN far DATE")
    con.execute("UPDATE t SET far = DATE '2300-01-01'")
    df = _nanosecond_dates(con.execute("SELECT d, far, 1 AS n FROM t").df())
    assert [str(t) for t in df.dtypes] == ["datetime64[ns]", "datetime64[us]", "int32"]
    assert df["d"].isna().tolist() == [False, True, False]
    assert str(df["d"][0].date()) == "2025-01-01"


@pytest.mark.parametrize(
    ("dates", "evaluated", "failed"),
    [
        (["2025-01-10", "2026-01-01", None, "1940-05-01"], 3, 1),  # fits: vectorised in GX
        (["2025-01-10", "2300-01-01", "1500-06-01", None], 3, 1),  # outside the ns range: per value
    ],
)
@pytest.mark.parametrize("engine", ["gx", "sql"])
def test_not_in_future_counts_are_the_same_in_both_engines(
    dates: list[str | None], evaluated: int, failed: int, engine: str
) -> None:
    expectation = Expectation(id="x_future", scope="warehouse", target="t", kind="not_in_future", columns=("d",),
                              category="plausibility", threshold=0.0, severity="warn")  # fmt: skip
    (r,) = evaluate(_con(dates), [expectation], {("t", "records"): "t"}, run_id="R1",
                    run_at=datetime(2025, 3, 1, 6), as_of=AS_OF, engine=engine)  # type: ignore[arg-type]  # fmt: skip
    assert (r.rows_evaluated, r.rows_failed, r.engine) == (evaluated, failed, engine)
