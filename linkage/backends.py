"""Where Splink runs: DuckDB in this process (default) or Spark (a cluster, or local Spark in tests).

The model, its settings and its training are the same on both (`linkage.match_training`); only the
`db_api` Splink is given differs. Spark is an optional extra (`pip install .[spark]`, Java from the
system): `spark_session()` takes the active session if the caller made one (a cluster's, or a test's
`local[1]`), else starts a local one with Splink's similarity functions registered. Scored pairs come
back as an Arrow table into the caller's DuckDB connection, so deciding (`linkage.matcher`) and the
DOB safety rule's SQL are one code path whichever backend scored them.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import duckdb

Backend = Literal["duckdb", "spark"]
BACKENDS: tuple[str, ...] = get_args(Backend)


def check_backend(backend: str) -> None:
    """Refuse an unknown backend name before any work."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def spark_session() -> Any:
    """The active Spark session, or a new local one with Splink's similarity UDF jar on its classpath."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as missing:
        raise RuntimeError(
            "backend 'spark' needs PySpark: install the extra with `pip install .[spark]` (and Java)"
        ) from missing
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from splink.backends.spark import similarity_jar_location

    return (
        SparkSession.builder.appName("phm-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.session.timeZone", "UTC")  # dates of birth must not shift with the host
        .getOrCreate()
    )


def db_api(backend: str, con: duckdb.DuckDBPyConnection) -> Any:
    """Splink's database API for `backend`: DuckDB on `con`, or Spark on `spark_session()`."""
    check_backend(backend)
    if backend == "spark":
        from splink.backends.spark import SparkAPI

        return SparkAPI(spark_session=spark_session())
    from splink import DuckDBAPI

    return DuckDBAPI(connection=con)


def local_table(predictions: Any, con: duckdb.DuckDBPyConnection, backend: str) -> str:
    """The name of Splink's predictions in `con`: the table itself on DuckDB, an Arrow copy from Spark."""
    if backend == "duckdb":
        return str(predictions.physical_name)
    name = "_spark_predictions"
    con.register(name, predictions.as_pyarrow_table())
    return name
