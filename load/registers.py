"""Stage 1: the registers that govern a load (identifiable zone)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

import connectors
from core.layout import Home
from load.files import write_parquet


@dataclass(frozen=True)
class Registers:
    """What governs a load: who has opted out, which practices share GP data, reference lookups."""

    opt_outs: connectors.OptOuts
    non_sharing: frozenset[str]
    postcode_lsoa: pl.DataFrame


_OPT_OUT_SCHEMA = {"nhs_number": pl.String, "route": pl.String}


def load_registers(landing: Path, home: Home) -> Registers:
    """Read the opt-out and data-sharing registers; keep the opt-out list in the identifiable zone.

    Type 1 objections accumulate: those recorded by earlier loads are kept even when the GP event
    files that carried them are no longer in landing, so a one-month re-run honours every Type 1
    objection ever seen. (The NDOO register is a full list each time, so it replaces the last one.)
    """
    found = connectors.load_opt_outs(landing)
    opt_outs = connectors.OptOuts(ndoo=found.ndoo, type1=found.type1 | _known_type1(home))
    frame = pl.concat(
        [
            pl.DataFrame({"nhs_number": sorted(opt_outs.ndoo), "route": "ndoo"}, schema=_OPT_OUT_SCHEMA),
            pl.DataFrame({"nhs_number": sorted(opt_outs.type1), "route": "type1"}, schema=_OPT_OUT_SCHEMA),
        ]
    )
    write_parquet(frame, home.opt_outs)
    return _registers(landing, opt_outs)


def _known_type1(home: Home) -> frozenset[str]:
    """Type 1 objections recorded by earlier loads (none before the first)."""
    if not home.opt_outs.exists():
        return frozenset()
    frame = pl.read_parquet(home.opt_outs)
    return frozenset(frame.filter(pl.col("route") == "type1")["nhs_number"].to_list())


def read_registers(landing: Path, home: Home) -> Registers:
    """The registers as last loaded by `load_registers` (opt-outs from the identifiable zone)."""
    frame = pl.read_parquet(home.opt_outs)
    by_route = {
        route: frozenset(frame.filter(pl.col("route") == route)["nhs_number"].to_list())
        for route in ("ndoo", "type1")
    }
    return _registers(landing, connectors.OptOuts(ndoo=by_route["ndoo"], type1=by_route["type1"]))


def _registers(landing: Path, opt_outs: connectors.OptOuts) -> Registers:
    # Every reference file is checked here, first, so a malformed one is reported as itself (file,
    # line, problem) rather than later as its symptom (e.g. duplicated people after a join).
    for name in ("practices", "lsoa_imd"):
        connectors.read_reference(landing, name)
    return Registers(
        opt_outs=opt_outs,
        non_sharing=connectors.load_non_sharing(landing),
        postcode_lsoa=connectors.read_reference(landing, "postcode_lsoa").rename({"lsoa21": "lsoa21cd"}),
    )
