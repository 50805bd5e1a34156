"""linkage: tracing records to NHS numbers (identifiable zone) and building the analyst warehouse
(pseudonymised zone, `linkage.warehouse`)."""

from linkage.master import build_master, master_postcodes
from linkage.trace import DEFAULT_PASSES, PassResult, TracePass, Tracer, TraceResult, TraceStats, trace

__all__ = [
    "DEFAULT_PASSES",
    "PassResult",
    "TracePass",
    "TraceResult",
    "TraceStats",
    "Tracer",
    "build_master",
    "master_postcodes",
    "trace",
]
