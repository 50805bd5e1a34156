"""The Great Expectations engine: a frame validated as one pandas batch by one suite, counts read back.

GX runs with result_format SUMMARY and partial_unexpected_count 0, and only `element_count`,
`missing_count` and `unexpected_count` are read, so no value from the data reaches a result. One
ephemeral context per process, with one pandas data source and one whole-dataframe batch definition
that every validation reuses (each frame is its batch's runtime parameter): importing GX and making a
context costs seconds, and adding and deleting a data source per frame cost more than validating it
(GX rewrites the context's configuration as YAML on every change).
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import duckdb

from quality.expectations import Frame, Unit

#: Per unit: (rows evaluated, rows failed, engine name).
Counts = dict[int, tuple[int, int, str]]


def load_gx() -> None:
    """Import Great Expectations and make this process's context now (the import alone takes ~5-9 s).

    Long-lived processes pay it once; the pipeline benchmark calls this before its clock starts, as it
    does for polars and DuckDB, so it times the checks rather than a one-off import.
    """
    gx_context()


@cache
def gx_context() -> Any:
    """An ephemeral GX context with progress bars off, one per process (GX makes a temp docs folder
    for each context it creates)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _whole_frame(context: Any) -> Any:
    """The context's one batch definition, "a whole pandas dataframe given at validation time".

    The dataframe is a runtime batch parameter, not part of the definition, so one definition serves
    every frame, and nothing of a frame stays in the context once its validation returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = context.data_sources.add_pandas(name="phm_dq")
        return source.add_dataframe_asset(name="frame").add_batch_definition_whole_dataframe("whole")


def _nanosecond_dates(df: Any) -> Any:
    """The frame with its date and timestamp columns as datetime64[ns], where every value fits.

    DuckDB hands dates to pandas as datetime64[us]; GX compares only datetime64[ns] columns to a bound
    in one vectorised step and otherwise calls Python once per value (about a third of GX's time at
    200,000 people). The values and the comparisons are the same in both units; a column holding a
    date outside the nanosecond range (before 1677 or after 2262) keeps microseconds and GX's
    per-value path, so every count is what it was.
    """
    import pandas as pd

    for name in df.columns:
        dtype = df[name].dtype
        if pd.api.types.is_datetime64_dtype(dtype) and not pd.api.types.is_datetime64_ns_dtype(dtype):
            try:
                df[name] = df[name].astype("datetime64[ns]")
            except (OverflowError, pd.errors.OutOfBoundsDatetime):
                continue
    return df


def by_gx(con: duckdb.DuckDBPyConnection, context: Any, frame: Frame, units: dict[int, Unit]) -> Counts:
    """Validate the frame as a pandas batch with one suite holding every unit's expectation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx

        df = _nanosecond_dates(con.execute(frame.sql, frame.params).df())
        batch = _whole_frame(context).get_batch(batch_parameters={"dataframe": df})
        suite = gx.ExpectationSuite(name="dq")
        for i, u in units.items():
            assert u.gx is not None
            expectation = u.gx(gx.expectations)
            expectation.meta = {**(expectation.meta or {}), "dq_unit": i}
            suite.add_expectation(expectation)
        validation = batch.validate(
            suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0}
        )
    out: Counts = {}
    for r in validation.results:
        i = int(r.expectation_config.meta["dq_unit"])
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"GX could not evaluate {units[i].expectation.id} on {units[i].expectation.asset}"
            )
        res = r.result
        element = int(res.get("element_count", 0))
        missing = int(res.get("missing_count") or 0)
        evaluated = element if units[i].expectation.kind == "not_null" else element - missing
        out[i] = (evaluated, int(res.get("unexpected_count") or 0), "gx")
    return out
