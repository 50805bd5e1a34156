"""linkage: tracing records to NHS numbers (identifiable zone) and building the analyst warehouse
(pseudonymised zone, `linkage.warehouse`)."""

from linkage.master import build_master, master_postcodes
from linkage.matcher import MatchResult, match_people
from linkage.probabilistic import SplinkPass
from linkage.trace import (
    DEFAULT_PASSES,
    PassResult,
    TracePass,
    Tracer,
    TraceResult,
    TraceStats,
    pseudo_keys,
    trace,
)

__all__ = [
    "DEFAULT_PASSES",
    "MatchResult",
    "PassResult",
    "SplinkPass",
    "TracePass",
    "TraceResult",
    "TraceStats",
    "Tracer",
    "build_master",
    "master_postcodes",
    "match_people",
    "pseudo_keys",
    "trace",
]
