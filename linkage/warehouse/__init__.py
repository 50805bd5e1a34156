"""The analyst warehouse: DuckDB SQL over the pseudonymised staged files, published atomically."""

from linkage.warehouse.build import WarehouseStats, build_warehouse, open_read_only
from linkage.warehouse.checks import WarehouseCheckError
from linkage.warehouse.schema import OPS_TABLES, STAGED_COLUMNS, TABLES

__all__ = [
    "OPS_TABLES",
    "STAGED_COLUMNS",
    "TABLES",
    "WarehouseCheckError",
    "WarehouseStats",
    "build_warehouse",
    "open_read_only",
]
