"""Reading landing files: exact physical line numbers, malformed lines, file-level failures."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from connectors import ExtractFileError, OptOuts, ingest_file
from connectors.spec import GP_EVENTS

HEADER = ",".join(GP_EVENTS.names)  # NHS_Number,Practice_Code,Event_ID,Event_Date,SNOMED_Code,Value,Unit
GOOD = "9990000018,A12345,E{n},2025-04-0{d},22298006,,"


def _write(landing: Path, text: str | bytes, name: str = "gp_events_2025-04.csv") -> Path:
    path = landing / "gp_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _ingest(landing: Path, path: Path):  # type: ignore[no-untyped-def]
    return ingest_file(
        "gp_events", path, landing=landing, opt_outs=OptOuts(), non_sharing=frozenset(), load_id="L1"
    )


def test_line_numbers_exact_with_malformed_lines_and_quoted_commas(tmp_path: Path) -> None:
    lines = [
        HEADER,
        GOOD.format(n=1, d=1),  # 2 loaded
        '9990000018,A12345,E2,2025-04-02,22298006,"1.5","mmHg"',  # 3 loaded, quoted fields
        "9990000018,A12345,E3,2025-04-03,22298006,,,EXTRA",  # 4 extra field
        '9990000018,A12345,E4,2025-04-04,22298006,,"unbalanced',  # 5 unbalanced quote
        "",  # 6 blank line inside the file
        GOOD.format(n=7, d=7),  # 7 loaded
        '9990000018,A12345,E8,2025-04-08,22298006,2,"kg/m2"',  # 8 loaded
        'x"y,A12345,E9,2025-04-09,22298006,,',  # 9 stray quote mid-field
    ]
    path = _write(tmp_path, "\n".join(lines) + "\n\n")  # trailing blank line: not a data line
    result = _ingest(tmp_path, path)
    assert result.records["source_line"].to_list() == [2, 3, 7, 8]
    assert result.records["event_id"].to_list() == ["E1", "E2", "E7", "E8"]
    assert result.records["unit"].to_list() == [None, "mmHg", None, "kg/m2"]
    assert result.records["value"].to_list() == [None, 1.5, None, 2.0]
    q = result.quarantine
    assert q["source_line"].to_list() == [4, 5, 6, 9]
    assert set(q["reason"]) == {"malformed_line"}
    assert q["raw_line"].to_list() == [lines[3], lines[4], "", lines[8]]
    assert q["source_file"].unique().to_list() == ["gp_events/gp_events_2025-04.csv"]
    assert result.reconciliation.rows_in == 8


def test_crlf_and_bom_and_no_final_newline(tmp_path: Path) -> None:
    text = "\ufeff" + HEADER + "\r\n" + GOOD.format(n=1, d=1) + "\r\nbad\r\n" + GOOD.format(n=3, d=3)
    result = _ingest(tmp_path, _write(tmp_path, text))
    assert result.records["source_line"].to_list() == [2, 4]
    assert result.quarantine["raw_line"].to_list() == ["bad"]
    assert result.reconciliation.rows_in == 3


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    result = _ingest(tmp_path, _write(tmp_path, HEADER + "\n"))
    assert result.records.height == 0
    assert result.reconciliation.rows_in == 0


def test_columns_in_another_order_are_read_by_name(tmp_path: Path) -> None:
    names = list(reversed(GP_EVENTS.names))
    text = ",".join(names) + "\n" + ",,22298006,2025-04-01,E1,A12345,9990000018\n"
    result = _ingest(tmp_path, _write(tmp_path, text))
    assert result.records.select("nhs_number", "event_id", "snomed_code").row(0) == (
        "9990000018",
        "E1",
        "22298006",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"NHS_Number,Practice_Code\n\xff\xfe,\n",
            "gp_events/gp_events_2025-04.csv: not valid UTF-8 (first bad byte on line 2)",
        ),
        (b"", "gp_events/gp_events_2025-04.csv: empty file (no header row)"),
        (b"\n  \n", "gp_events/gp_events_2025-04.csv: empty file (no header row)"),
        (
            (b"NHS_Number,Practice_Code,Event_ID,Event_Date,SNOMED_Code,Value\n"),
            "gp_events/gp_events_2025-04.csv: header does not match the spec; missing columns: Unit",
        ),
        (
            (HEADER + ",Comment\n").encode(),
            "gp_events/gp_events_2025-04.csv: header does not match the spec; "
            "1 unknown column(s) at position 8 (names not shown)",
        ),
        (
            (HEADER.replace("Unit", "Units") + ",Value\n").encode(),
            "gp_events/gp_events_2025-04.csv: header does not match the spec; missing columns: Unit; "
            "1 unknown column(s) at position 7 (names not shown); duplicated columns: Value",
        ),
        (
            # No header row: line 1 is a patient's record, and none of it may reach the message.
            (GOOD.format(n=1, d=1) + "\n").encode(),
            "gp_events/gp_events_2025-04.csv: header does not match the spec; none of the expected column "
            "names is on line 1 (is the header row missing?)",
        ),
        (
            (HEADER + "\n" + GOOD.format(n=1, d=1) + "\n9990000018,A12345,E2,2025-04").encode(),
            "gp_events/gp_events_2025-04.csv: truncated: the last record (line 3) has no newline "
            "and is not complete (cut inside its last field?)",
        ),
    ],
    ids=[
        "bad_encoding",
        "empty",
        "blank_only",
        "missing_column",
        "extra_column",
        "mixed",
        "no_header_row",
        "truncated",
    ],
)
def test_file_level_failures_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ExtractFileError) as info:
        _ingest(tmp_path, path)
    assert str(info.value) == message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ExtractFileError) as info:
        _ingest(tmp_path, tmp_path / "gp_events" / "gp_events_2025-04.csv")
    assert str(info.value) == "gp_events/gp_events_2025-04.csv: unreadable (No such file or directory)"


def test_malformed_last_line_with_newline_is_quarantined_not_truncation(tmp_path: Path) -> None:
    text = HEADER + "\n" + GOOD.format(n=1, d=1) + "\n9990000018,A12345,E2,2025-04\n"
    result = _ingest(tmp_path, _write(tmp_path, text))
    assert result.quarantine.select("source_line", "reason").rows() == [(3, "malformed_line")]


def test_error_messages_carry_no_row_values(tmp_path: Path) -> None:
    text = HEADER + "\n9990000018,A12345,E1,2025-04-01,22298006,,\n9990000026,A12345,E2"
    with pytest.raises(ExtractFileError) as info:
        _ingest(tmp_path, _write(tmp_path, text))
    assert "999" not in str(info.value)


def test_quoted_newline_unit_separator_and_quoted_whitespace(tmp_path: Path) -> None:
    lines = [
        HEADER,
        '9990000018,A12345,E1,2025-04-01,22298006,,"mm',  # 2 a quoted line break joins lines 2-3 into
        'Hg"',  # 3 one record, which then fails the unit's code list
        "9990000018,A12345,E4,2025-04-04,22298006,,a\x1fb",  # 4 unit separator: the slow splitter, refused
        '9990000018," a12345 ",E5,2025-04-05,"22298006 ",,""',  # 5 whitespace inside quotes is trimmed
        ",,,,,,",  # 6 every field blank
    ]
    result = _ingest(tmp_path, _write(tmp_path, "\n".join(lines) + "\n"))
    assert result.quarantine.select("source_line", "reason").rows() == [
        (2, "invalid_code"),
        (4, "control_character"),
        (6, "missing_required"),
    ]
    assert result.quarantine["raw_line"][0] == lines[1] + "\n" + lines[2]
    assert result.records.select("source_line", "practice_code", "snomed_code", "unit").rows() == [
        (5, "A12345", "22298006", None),
    ]
    assert result.reconciliation.rows_in == 4


def test_all_lines_malformed(tmp_path: Path) -> None:
    result = _ingest(tmp_path, _write(tmp_path, HEADER + "\na\nb,c\n"))
    assert result.records.height == 0
    assert result.quarantine["source_line"].to_list() == [2, 3]
    result.reconcile()


def test_a_header_followed_only_by_blank_lines_loads_nothing_and_fails_nothing(tmp_path: Path) -> None:
    result = _ingest(tmp_path, _write(tmp_path, HEADER + "\n\n\n"))
    assert result.records.height == 0
    assert result.quarantine.height == 0
    assert result.reconciliation.rows_in == 0
    result.reconcile()


def test_well_formed_checks_only_quoted_lines_past_the_comma_count() -> None:
    """Every shape of line against a 3-field header: the comma count decides lines without a quote (and
    lines whose only quotes are empty '""' fields); lines with any other quote take the record pattern."""
    from connectors.rawfile import _well_formed

    raw = pl.Series(
        [
            "a,b,c",  # plain, right width
            "a,b",  # plain, too few
            "a,b,c,d",  # plain, too many
            'a,"",c',  # empty quoted field only: comma count
            '"","",""',  # only empty quoted fields
            '"",""',  # empty quoted fields, too few
            '"x,y",b,c',  # quoted comma: pattern, good
            '"x ""q"" y",b,c',  # doubled quotes inside a quoted field: good
            'a,b"c,d',  # stray quote mid-field: bad although the comma count fits
            'a,"open,c',  # unbalanced quote
            '"x,y",b',  # quoted comma, one field short
            None,  # blank line
        ],
        dtype=pl.String,
    )
    assert _well_formed(raw, 3).to_list() == [
        True, False, False, True, True, False, True, True, False, False, False, False,
    ]  # fmt: skip


def test_good_lines_around_a_joined_record_and_malformed_lines_parse_exactly(tmp_path: Path) -> None:
    """The good lines are cut out of the file by byte range: a record joined over a quoted line break,
    then malformed lines, then good ones; every good record keeps its own values and line."""
    lines = [
        HEADER,
        GOOD.format(n=1, d=1),  # 2 loaded
        '9990000018,A12345,E2,2025-04-02,22298006,"1',  # 3 a quoted line break joins lines 3-4 into
        '.5",mmHg',  # 4 one record, whose value holds the line break: invalid_number
        "9990000018,A12345,E5,2025-04-05,22298006,,,EXTRA",  # 5 extra field
        "9990000018,A12345,E6",  # 6 too few fields
        GOOD.format(n=7, d=7),  # 7 loaded
        '9990000018,A12345,E8,2025-04-08,22298006,2,"kg/m2"',  # 8 loaded, quoted
    ]
    result = _ingest(tmp_path, _write(tmp_path, "\n".join(lines) + "\n"))
    assert result.records.select("source_line", "event_id", "value", "unit").rows() == [
        (2, "E1", None, None),
        (7, "E7", None, None),
        (8, "E8", 2.0, "kg/m2"),
    ]
    assert result.quarantine.select("source_line", "reason").rows() == [
        (3, "invalid_number"),
        (5, "malformed_line"),
        (6, "malformed_line"),
    ]
    assert result.quarantine["raw_line"][0] == lines[2] + "\n" + lines[3]
    assert result.reconciliation.rows_in == 6


def test_padding_hint_agrees_with_the_regex_it_replaces() -> None:
    """`_may_pad` (literal tests at the line's ends) marks exactly the lines the regex did."""
    from connectors.rawfile import _may_pad

    raw = pl.Series(
        [
            "a,b",
            " a,b",
            "a,b ",
            "\ta,b",
            "a,b\t",
            "a, b",
            "a ,b",
            'a," b"',
            '"a" ,b',
            "a b,c",
            "a\t\tb",
            "",
            None,
        ]
    )
    regex = raw.str.contains(r'[,"][ \t]|[ \t][,"]|^[ \t]|[ \t]$')
    got = pl.select(_may_pad(pl.lit(raw))).to_series()
    assert got.to_list() == regex.to_list()
    assert got.to_list() == [False, True, True, True, True, True, True, True, True, False, False, False, None]
