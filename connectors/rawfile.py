"""Read one landing CSV into raw lines and string fields, keeping exact physical line numbers.

Why not just ``pl.read_csv``: one bad line (a stray quote, a missing comma) would either fail the whole
file or silently shift every later row's line number. Instead the file is first split into physical
lines (cheaply, by polars with a separator that cannot occur and quoting off), each line's field count is
checked, malformed lines are set aside, and only the good lines are parsed as CSV - in one pass over
byte ranges of the original buffer, so the fast path costs little more than a plain ``read_csv``.

Rules (the reconciliation counts follow them):
- the header is line 1; ``source_line`` is the 1-based physical line number;
- blank lines at the end of the file are ignored (not data lines); a blank line inside is malformed;
- a line is one record: a quoted field may contain commas and doubled quotes but not a newline
  (a record split over two lines makes both lines malformed);
- truncation: a file whose last line has no newline *and* is not a complete record was cut off in
  transfer - the whole file is rejected. A complete last line without a newline is accepted.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from connectors.errors import ExtractFileError
from connectors.landing import read_landing_bytes

LINE = "__line"
RAW = "__raw"
HASH = "__hash"  # hash of the raw line: duplicates are found on it, the text is fetched only when needed
WS = "__ws"  # the raw line may hold a field with leading/trailing whitespace
_NEVER = "\x1f"  # ASCII unit separator: a line splitter that no CSV field should contain


@dataclass(frozen=True)
class RawFile:
    """A file split into lines: ``lines`` (every data line) and ``fields`` (the well-formed ones)."""

    file: str
    header: list[str]
    lines: pl.DataFrame  # LINE (Int64), RAW (str, null for blank lines), ok (bool)
    fields: pl.DataFrame  # one string column per header name, plus LINE, HASH and WS; only ok lines

    def raw_lines(self, line_numbers: pl.Series) -> pl.Series:
        """The raw text of the given physical lines ('' for a blank line)."""
        return self.lines[RAW].gather(line_numbers - 2).fill_null("")


def relative_name(path: Path, landing: Path) -> str:
    """The file's path relative to landing (what messages and source_file carry)."""
    try:
        return path.resolve().relative_to(landing.resolve()).as_posix()
    except ValueError:
        return path.name


def read_bytes(path: Path, file: str) -> bytes:
    """Read and check a file's bytes (`connectors.landing`): readable, UTF-8, not empty; BOM dropped."""
    data = read_landing_bytes(path, file)  # regular files only, never blocking; .gz decompressed
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ExtractFileError(file, f"not valid UTF-8 (first bad byte on line {line})") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data or data.isspace():
        raise ExtractFileError(file, "empty file (no header row)")
    return data


def parse_header(data: bytes, file: str, expected: Sequence[str]) -> tuple[list[str], int]:
    """The header's column names and the byte offset where line 2 starts; checks them against the spec."""
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    names = [n.strip() for n in next(csv.reader([first.decode("utf-8").rstrip("\r")]))]
    # Line 1 is untrusted: if the header row is missing it holds a patient's record. Only the spec's own
    # column names are ever quoted; anything else is reported by position.
    dupes = sorted({n for n in names if n in expected and names.count(n) > 1})
    missing = [n for n in expected if n not in names]
    unknown = [str(i) for i, n in enumerate(names, start=1) if n not in expected]
    problems = []
    if len(missing) == len(expected):
        problems.append("none of the expected column names is on line 1 (is the header row missing?)")
    elif missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown and len(missing) < len(expected):
        problems.append(
            f"{len(unknown)} unknown column(s) at position {', '.join(unknown)} (names not shown)"
        )
    if dupes:
        problems.append(f"duplicated columns: {', '.join(dupes)}")
    if problems:
        raise ExtractFileError(file, "header does not match the spec; " + "; ".join(problems))
    return names, (len(data) if end < 0 else end + 1)


def _physical_lines(data: bytes, body_start: int) -> pl.Series:
    """Every physical line after the header, without line endings (null for a blank line)."""
    body = data[body_start:]
    if not body:
        return pl.Series(RAW, [], dtype=pl.String)
    if _NEVER.encode() in body:  # rare: fall back to Python's splitter
        parts = body.decode("utf-8").split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        return pl.Series(RAW, [p.rstrip("\r") or None for p in parts], dtype=pl.String)
    frame = pl.read_csv(
        body, has_header=False, separator=_NEVER, quote_char=None, infer_schema=False, new_columns=[RAW]
    )
    return frame.to_series()


def _well_formed(raw: pl.Series, n_fields: int) -> pl.Series:
    """True where a raw line is exactly one CSV record of ``n_fields`` fields.

    Cheap path first: with empty quoted fields ('""', which polars writes for empty strings) taken
    out, a line with no quote left just needs n-1 commas. Only lines still holding a quote go through
    the full record regex (quoted fields with commas and doubled quotes, nothing stray).
    """
    field = r'(?:"(?:[^"]|"")*"|[^",]*)'
    record = f"^(?:{field},){{{n_fields - 1}}}{field}$"
    if raw.str.contains('"', literal=True).any():
        plain = raw.str.replace_all('""', "", literal=True)
    else:
        plain = raw
    ok = (plain.str.count_matches(",", literal=True) == n_fields - 1).fill_null(False)
    quoted = plain.str.contains('"', literal=True).fill_null(False)
    if quoted.any():
        idx = quoted.arg_true()
        ok = ok.scatter(idx, raw.gather(idx).str.contains(record))
    return ok


def _good_bytes(data: bytes, body_start: int, lines: pl.DataFrame) -> bytes:
    """The good lines as one buffer: byte ranges of the original file, skipping the bad lines."""
    spans = (
        lines.with_columns(
            start=(pl.col(RAW).str.len_bytes().fill_null(0) + 1).cum_sum().shift(1, fill_value=0)
            + body_start,
            length=pl.col(RAW).str.len_bytes().fill_null(0) + 1,
            run=(pl.col("ok") != pl.col("ok").shift(1)).fill_null(True).cum_sum(),
        )
        .filter("ok")
        .group_by("run", maintain_order=True)
        .agg(pl.col("start").first(), (pl.col("start") + pl.col("length")).last().alias("end"))
    )
    view = memoryview(data)
    return b"".join(view[s:e] for s, e in spans.select("start", "end").iter_rows())


def read_raw(path: Path, file: str, expected: Sequence[str]) -> RawFile:
    """Split a landing file into checked lines and parse the well-formed ones (all columns as strings)."""
    data = read_bytes(path, file)
    header, body_start = parse_header(data, file, expected)
    raw = _physical_lines(data, body_start)
    n_physical = n_lines = len(raw)
    while n_lines and (raw[n_lines - 1] is None or not raw[n_lines - 1].strip()):
        n_lines -= 1  # blank lines at the end are not data lines
    raw = raw.head(n_lines)
    lines = pl.DataFrame(
        [raw, pl.int_range(2, n_lines + 2, dtype=pl.Int64, eager=True).alias(LINE)]
    ).with_columns(_well_formed(raw, len(header)).alias("ok"))
    if n_lines and not data.endswith(b"\n") and not lines["ok"][-1]:
        raise ExtractFileError(
            file,
            f"truncated: the last line (line {lines[LINE][-1]}) has no newline and is not a complete record",
        )
    good_lines = lines.select(
        LINE,
        "ok",
        pl.col(RAW).hash().alias(HASH),
        pl.col(RAW).str.contains(r'[,"][ \t]|[ \t][,"]|^[ \t]|[ \t]$').alias(WS),
    ).filter("ok")
    if b"\r" in data or _NEVER.encode() in data:
        good = "\n".join(lines.filter("ok")[RAW].to_list()).encode()  # CRLF or fallback: rebuild from lines
    elif good_lines.height == n_physical:
        good = data[body_start:]  # the common case: every line good, no trailing blanks
    else:
        good = _good_bytes(data, body_start, lines)
    if good_lines.height:
        fields = pl.read_csv(
            good, has_header=False, infer_schema=False, quote_char='"', new_columns=header, null_values=[""]
        )
    else:
        fields = pl.DataFrame(schema=dict.fromkeys(header, pl.String))
    if fields.height != good_lines.height:
        raise ExtractFileError(file, "lines could not be parsed consistently (internal check failed)")
    fields = fields.with_columns(good_lines[LINE], good_lines[HASH], good_lines[WS])
    return RawFile(file, header, lines, fields)
