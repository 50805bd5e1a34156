"""Opt-outs at source: the National Data Opt-out, Type 1 opt-outs and non-sharing practices.

Applied by the connectors, before anything leaves the identifiable zone, because an objection is
against *any* secondary use of the data, risk stratification included. Rows whose NHS number is null
(missing or invalid) cannot be matched here; tracing fills them and re-checks against the same sets.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Final

import polars as pl

from connectors import spec
from connectors.errors import ExtractFileError
from connectors.landing import inventory_of
from connectors.normalise import normalise_nhs_series
from connectors.rawfile import LINE, parse_header, read_bytes, read_raw

NDOO_PATH: Final = "registers/national_data_opt_out.csv"
NON_SHARING_PATH: Final = "registers/non_sharing_practices.csv"
ROUTES: Final = ("ndoo", "type1")  # precedence when a person is on both: counted once, as ndoo

_REMOVED_SCHEMA: Final = {
    "source": pl.String,
    "practice_code": pl.String,
    "route": pl.String,
    "rows": pl.Int64,
}


@dataclass(frozen=True)
class OptOuts:
    """Normalised NHS numbers of people who opted out, by route."""

    ndoo: frozenset[str] = field(default_factory=frozenset)
    type1: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def _series(self) -> tuple[pl.Series, pl.Series]:
        # Built once per OptOuts: ingest applies the same sets to hundreds of files.
        return pl.Series(list(self.ndoo), dtype=pl.String), pl.Series(list(self.type1), dtype=pl.String)

    def route(self, nhs_number: pl.Expr) -> pl.Expr:
        """'ndoo', 'type1' or null for each row (null NHS numbers are never matched)."""
        ndoo, type1 = self._series
        return (
            pl.when(nhs_number.is_in(ndoo.implode()))
            .then(pl.lit("ndoo"))
            .when(nhs_number.is_in(type1.implode()))
            .then(pl.lit("type1"))
            .otherwise(None)
        )

    def apply(self, frame: pl.DataFrame, *, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Split ``frame`` (normalised ``nhs_number``) into kept rows and removal counts.

        The counts frame has (source, practice_code, route, rows); practice_code is the row's own
        practice where the source has one, else null. Small counts must be suppressed before release.
        """
        routed = frame.with_columns(self.route(pl.col("nhs_number")).alias("route"))
        kept = routed.filter(pl.col("route").is_null()).drop("route")
        return kept, removal_counts(routed.filter(pl.col("route").is_not_null()), source=source)

    def __len__(self) -> int:
        return len(self.ndoo | self.type1)


def removal_counts(removed: pl.DataFrame, *, source: str) -> pl.DataFrame:
    """(source, practice_code, route, rows) from removed rows carrying ``route`` (and practice_code)."""
    practice = pl.col("practice_code") if "practice_code" in removed.columns else pl.lit(None, pl.String)
    counts = (
        removed.group_by(practice.alias("practice_code"), "route")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .select(pl.lit(source).alias("source"), "practice_code", "route", "rows")
        .sort("practice_code", "route", nulls_last=True)
    )
    return counts.cast(_REMOVED_SCHEMA)  # type: ignore[arg-type]


def _read_register(landing: Path, rel: str) -> pl.DataFrame:
    """A register as strings, with the header checked against ``spec.REGISTERS``."""
    register = next(r for r in spec.REGISTERS if r.path == rel)
    names = [name for name, _ in register.columns]
    data = read_bytes(landing / rel, rel)
    parse_header(data, rel, names)
    try:
        return pl.read_csv(data, infer_schema=False, quote_char='"')
    except pl.exceptions.PolarsError:
        raise ExtractFileError(rel, "not a well-formed CSV") from None


def _lines(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers[:5]) + (" ..." if len(numbers) > 5 else "")


def _read_ndoo(landing: Path) -> frozenset[str]:
    """Every NHS number on the NDOO register, normalised as the extracts are (`connectors.normalise`).

    Fails closed: a malformed line, or an entry that is not a valid NHS number even after the
    spreadsheet repairs of ``nhs_digits``, stops the load with the register's line numbers (never
    the value), because dropping it would let that person's data flow.
    """
    register = next(r for r in spec.REGISTERS if r.path == NDOO_PATH)
    raw = read_raw(landing / NDOO_PATH, NDOO_PATH, [name for name, _ in register.columns])
    bad_lines = raw.lines.filter(~pl.col("ok"))[LINE].to_list()
    if bad_lines:
        raise ExtractFileError(
            NDOO_PATH, f"malformed line(s) {_lines(bad_lines)}: every objection must be read"
        )
    names = [name for name, _ in register.columns]
    entries = raw.fields.filter(
        pl.any_horizontal((pl.col(names).str.strip_chars() != "").fill_null(False))
    )  # not ',,'
    normalised = entries.select(LINE, normalise_nhs_series(entries["NHS_Number"]).alias("nhs"))
    unreadable = normalised.filter(pl.col("nhs").is_null())[LINE].to_list()
    if unreadable:
        raise ExtractFileError(
            NDOO_PATH,
            f"NHS_Number on line(s) {_lines(unreadable)} is not a valid NHS number (value not shown); "
            "an objection cannot be dropped, so nothing is loaded until the register is corrected",
        )
    return frozenset(normalised["nhs"].to_list())


def _type1_from_gp_events(path: Path, rel: str) -> set[str]:
    """NHS numbers with the Type 1 SNOMED code in one GP events file.

    Only lines containing the code's digits are parsed, so this is a fast text scan. A malformed line
    holding the code is read conservatively: any field that is a valid NHS number counts, because
    missing an objection is worse than over-applying one. A Type 1 line with no readable NHS number
    stops the load with its line number (fail closed, as for the NDOO register).
    """
    data = read_bytes(path, rel)
    code = spec.TYPE1_OPT_OUT_SNOMED.encode()
    header, _ = parse_header(data, rel, spec.GP_EVENTS.names)
    i_nhs = header.index(spec.GP_EVENTS.column("nhs_number").name)
    i_code = header.index(spec.GP_EVENTS.column("snomed_code").name)
    # Gather every candidate first and normalise them in one vectorised call: a per-line call costs a
    # frame each, and a large ICS has tens of thousands of Type 1 lines.
    owners: list[int] = []  # the line each candidate came from
    candidates: list[str] = []
    pos, counted_to, line_no = data.find(code), 0, 1
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line_no += data.count(b"\n", counted_to, start)  # running count: one pass over the file
        counted_to = start
        if line_no > 1:  # the header is not a record
            line = data[start:end].decode("utf-8").rstrip("\r")
            fields = next(csv.reader(io.StringIO(line)), [])
            if len(fields) == len(header):
                found_here = [fields[i_nhs]] if fields[i_code].strip() == spec.TYPE1_OPT_OUT_SNOMED else []
            else:
                found_here = fields
            candidates += found_here
            owners += [line_no] * len(found_here)
        pos = data.find(code, end)
    checked = pl.DataFrame(
        {
            "line": pl.Series(owners, dtype=pl.Int64),
            "nhs": normalise_nhs_series(pl.Series(candidates, dtype=pl.String)),
        }
    )
    found = set(checked["nhs"].drop_nulls().to_list())
    per_line = checked.group_by("line").agg(pl.col("nhs").is_not_null().any().alias("readable"))
    unreadable = sorted(per_line.filter(~pl.col("readable"))["line"].to_list())
    if unreadable:
        raise ExtractFileError(
            rel,
            f"Type 1 opt-out on line(s) {_lines(unreadable)} has no valid NHS number (value not shown); "
            "an objection cannot be dropped, so nothing is loaded until the file is corrected",
        )
    return found


def gp_event_files(landing: Path) -> list[tuple[Path, str]]:
    """Every GP events delivery in landing (all months, every version, even superseded or not in
    this run): each may record a Type 1 objection, and an objection is never dropped."""
    return [(landing / e.path, e.path) for e in inventory_of(landing, spec.GP_EVENTS.source)]


def load_opt_outs(landing: Path) -> OptOuts:
    """Both opt-out sets: the NDOO register and every Type 1 code in every GP events delivery.

    A missing or unreadable register raises ExtractFileError: without it nothing may flow. Type 1
    objections recorded in earlier loads are kept by the caller (`load.load_registers`).
    """
    ndoo = _read_ndoo(landing)
    type1: set[str] = set()
    for path, rel in gp_event_files(landing):
        type1 |= _type1_from_gp_events(path, rel)
    return OptOuts(ndoo=ndoo, type1=frozenset(type1))


def load_non_sharing(landing: Path) -> frozenset[str]:
    """ODS codes (upper case) of practices on the non-sharing register."""
    frame = _read_register(landing, NON_SHARING_PATH)
    codes = frame["Practice_Code"].str.strip_chars().str.to_uppercase().drop_nulls()
    return frozenset(c for c in codes.to_list() if c)
