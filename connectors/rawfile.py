"""Read one landing CSV into records and string fields, keeping exact physical line numbers.

Why not just ``pl.read_csv`` (or any whole-file RFC 4180 reader) on its own: one unbalanced quote makes
such a reader swallow every later record into one field. Measured on `bench.ingest`'s 1,003,049-row
APC file with one unbalanced quote per 10,000 lines: polars returned 542,550 rows without an error and
Python's csv module stopped at line 6,630 ("field larger than field limit"); DuckDB's ``read_csv`` with
``store_rejects`` rejected exactly the 100 bad lines but gives no line number for accepted rows and took
over 10 CPU-seconds. So a quote's damage is confined to its own line: the file is first split into
physical lines (cheaply, by polars with a separator that cannot occur and quoting off), each line's
field count is checked, and only the few lines that fail go to Python's csv module (strict RFC 4180),
which decides whether a line that opens a quoted field and the lines after it form one record with a
quoted line break. The good records are then parsed by polars in one pass over byte ranges of the
original buffer, so the fast path costs little more than a plain ``read_csv``.

Rules (the reconciliation counts follow them):
- the header is line 1; ``source_line`` is the 1-based physical line where a record starts;
- blank lines at the end of the file are ignored (not data lines); a blank line inside is malformed;
- a record is one line, or (RFC 4180) several when a quoted field holds a line break: up to
  ``MAX_RECORD_LINES`` physical lines, parsed strictly, with exactly the header's width; otherwise
  every line of the attempt is malformed on its own;
- truncation: a file whose last record has no newline *and* is not a complete record was cut off in
  transfer (for example inside its last quoted field) - the whole file is rejected. A complete last
  line without a newline is accepted;
- line ends are LF or CRLF; a file with carriage returns and no line feed at all (classic Mac, CR-only)
  is read with CR as the line end; a carriage return inside the header is refused with a message, and
  one inside a data line makes that record ``control_character`` (checked in `connectors.validate`).
"""

from __future__ import annotations

import codecs
import csv
import io
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
CTRL = "__ctrl"  # the raw record holds a NUL or another control character (not a quoted line break)
MAX_RECORD_LINES = 20  # a record with quoted line breaks may span at most this many physical lines
# Every C0 control character but the line feed (allowed only inside a quoted field), and DEL.
_CONTROL = r"[\x00-\x09\x0b-\x1f\x7f]"
_NEVER = "\x1f"  # ASCII unit separator: a line splitter that no CSV field should contain


@dataclass(frozen=True)
class RawFile:
    """A file split into lines: ``lines`` (every data line) and ``fields`` (the well-formed ones)."""

    file: str
    header: list[str]
    lines: pl.DataFrame  # LINE (Int64), RAW (str, null for blank lines), ok (bool)
    fields: pl.DataFrame  # one string column per header name, plus LINE, HASH and WS; only ok lines

    def raw_lines(self, line_numbers: pl.Series) -> pl.Series:
        """The raw text of the records starting on the given lines ('' for a blank line)."""
        if self.lines.height == 0 or self.lines[LINE][-1] == self.lines.height + 1:
            return self.lines[RAW].gather(line_numbers - 2).fill_null("")  # one line per record
        return self.lines[RAW].gather(self.lines[LINE].search_sorted(line_numbers)).fill_null("")


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
    if b"\r" in data and b"\n" not in data:
        data = data.replace(b"\r", b"\n")  # CR-only (classic Mac) line ends: read CR as the line end
    return data


def parse_header(data: bytes, file: str, expected: Sequence[str]) -> tuple[list[str], int]:
    """The header's column names and the byte offset where line 2 starts; checks them against the spec."""
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    text = first.decode("utf-8").rstrip("\r")
    if "\r" in text:
        raise ExtractFileError(
            file,
            "line 1 (the header) holds a carriage return inside it: mixed CR-only and LF line ends; "
            "resend with LF or CRLF line ends",
        )
    try:
        names = [n.strip() for n in next(csv.reader([text], strict=True))]
    except csv.Error:
        raise ExtractFileError(
            file, "line 1 (the header) is not one CSV record (stray or unbalanced quote)"
        ) from None
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
    # '""' holds no comma, so the comma count of every line is the count after taking them out; only
    # the few lines holding a quote are rewritten and checked further (not the whole file).
    ok = (raw.str.count_matches(",", literal=True) == n_fields - 1).fill_null(False)
    has_quote = raw.str.contains('"', literal=True).fill_null(False)
    if has_quote.any():
        idx = has_quote.arg_true()
        lines = raw.gather(idx)
        quoted = lines.str.replace_all('""', "", literal=True).str.contains('"', literal=True)
        ok = ok.scatter(idx, lines.str.contains(record).zip_with(quoted, ok.gather(idx)))
    return ok


def _may_pad(raw: pl.Expr) -> pl.Expr:
    """True where a line may hold a field with leading or trailing whitespace: a space or tab beside a
    comma or quote, or at either end of the line (the regex ``[,"][ \t]|[ \t][,"]|^[ \t]|[ \t]$``).

    The line's ends are tested apart: anchored alternatives defeat the regex engine's literal
    prefilter, and the one regex cost twice these five tests (10.3 against 5.2 ms a 138,000-line file).
    """
    ends = [raw.str.starts_with(c) | raw.str.ends_with(c) for c in " \t"]
    return raw.str.contains(r'[,"][ \t]|[ \t][,"]') | ends[0] | ends[1]


def _has_control(data: bytes) -> bool:
    """Whether any record may hold a control character: a cheap byte scan so the regex runs only then."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):  # `in` first: one fast scan, no count
        return True  # a carriage return that is not part of a CRLF line end
    return bool(data.translate(None, _ALLOWED_BYTES))


# Every byte but C0 controls and DEL, plus LF and CR (CRLF is checked apart): what translate() deletes.
_ALLOWED_BYTES = bytes(b for b in range(256) if b >= 0x20 and b != 0x7F) + b"\n\r"


def _record(text: str, n_fields: int) -> bool:
    """True when ``text`` is exactly one strict RFC 4180 record of ``n_fields`` fields (Python's csv)."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return False
    return len(rows) == 1 and len(rows[0]) == n_fields


def _join_quoted_breaks(lines: pl.DataFrame, n_fields: int) -> pl.DataFrame:
    """Merge the lines of records whose quoted fields hold line breaks into one record each.

    Only malformed lines with an odd number of quotes (a quoted field left open) start an attempt; the
    following lines are added while the quote count stays odd, up to ``MAX_RECORD_LINES``, and the
    result is kept only if the csv module reads it as one record of the header's width. The merged
    record keeps its first line's number; its continuation lines are no longer data lines.
    """
    # Two filters, not one predicate: quotes are counted on the few malformed lines only, not every line.
    bad = lines.with_row_index("__i").filter(~pl.col("ok"))
    bad = bad.filter(pl.col(RAW).str.count_matches('"', literal=True) % 2 == 1)
    if bad.is_empty():
        return lines
    changed: dict[int, str] = {}
    drop: set[int] = set()
    for i in bad["__i"].to_list():  # few: only malformed lines, read a window of lines each
        if i in drop:
            continue
        window = lines.slice(i, MAX_RECORD_LINES)
        raw, ok = window[RAW].fill_null("").to_list(), window["ok"].to_list()
        parts, quotes = [raw[0]], raw[0].count('"')
        while quotes % 2 and len(parts) < len(raw) and not ok[len(parts)]:
            parts.append(raw[len(parts)])
            quotes += parts[-1].count('"')
        text = "\n".join(parts)
        if len(parts) > 1 and quotes % 2 == 0 and _record(text, n_fields):
            changed[i] = text
            drop.update(range(i + 1, i + len(parts)))
    if not changed:
        return lines
    idx = pl.Series(list(changed), dtype=pl.UInt32)
    joined = lines.with_columns(
        lines[RAW].scatter(idx, list(changed.values())), lines["ok"].scatter(idx, True)
    )
    return joined.filter(~pl.int_range(lines.height, eager=True).is_in(sorted(drop)))


def _good_bytes(data: bytes, body_start: int, lines: pl.DataFrame) -> bytes:
    """The good lines as one buffer: byte ranges of the original file, skipping the bad lines.

    Each record spans its text and one line end (a record joined over quoted line breaks holds its
    inner line ends in its text), so running sums of those sizes give every record's byte range; only
    the few bad lines' ranges are looked up, and the runs between them are copied whole.
    """
    if lines.is_empty():  # a header and blank lines only: no record, nothing to copy
        return b""
    size = lines[RAW].str.len_bytes().fill_null(0).cast(pl.Int64) + 1
    end = size.cum_sum()
    bad = (~lines["ok"]).arg_true()
    bad_ends = end.gather(bad).to_list()
    bad_starts = (end - size).gather(bad).to_list()
    view = memoryview(data)[body_start:]
    pieces, pos = [], 0
    for start, stop in zip(bad_starts, bad_ends, strict=True):
        pieces.append(view[pos:start])
        pos = stop
    pieces.append(view[pos : end[-1]])
    return b"".join(pieces)


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
    lines = _join_quoted_breaks(lines, len(header))
    if n_lines and not data.endswith(b"\n") and not lines["ok"][-1]:
        raise ExtractFileError(
            file,
            f"truncated: the last record (line {lines[LINE][-1]}) has no newline and is not complete "
            "(cut inside its last field?)",
        )
    good_lines = lines.select(
        LINE,
        "ok",
        pl.col(RAW).hash().alias(HASH),
        _may_pad(pl.col(RAW)).alias(WS),
        (pl.col(RAW).str.contains(_CONTROL) if _has_control(data) else pl.lit(False)).alias(CTRL),
    ).filter("ok")
    if b"\r" in data or _NEVER.encode() in data:
        good = "\n".join(lines.filter("ok")[RAW].to_list()).encode()  # CRLF or fallback: rebuild from lines
    elif good_lines.height == n_physical == lines.height:
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
    fields = fields.with_columns(good_lines[LINE], good_lines[HASH], good_lines[WS], good_lines[CTRL])
    return RawFile(file, header, lines, fields)
