"""RFC 4180 records: quoted line breaks, first-line numbers, CR-only line ends, truncation inside a field."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import ExtractFileError, OptOuts, ingest_file
from connectors.spec import GP_PATIENTS

HEADER = ",".join(GP_PATIENTS.names)
FILE = "gp_patients/gp_patients_2025-04.csv"


def _row(nhs: str, address: str, given: str = "Ann") -> str:
    return f"{nhs},A12345,{given},Smith,1950-06-30,F,A,{address},LS1 4AP,2020-01-01,,,2025-04-30"


def _ingest(tmp_path: Path, content: str | bytes):  # type: ignore[no-untyped-def]
    path = tmp_path / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    result = ingest_file(
        "gp_patients", path, landing=tmp_path, opt_outs=OptOuts(), non_sharing=frozenset(), load_id="L1"
    )
    result.reconcile()
    return result


def test_quoted_line_breaks_make_one_record_numbered_by_its_first_line(tmp_path: Path) -> None:
    lines = [
        HEADER,
        _row("9990000018", '"Flat 2\n1 High Street"'),  # lines 2-3: one record
        _row("9990000026", '"12, ""The Old Mill""\nMill Lane\nLeeds"'),  # lines 4-6: one record
        _row("9990000034", "5 Low Road") + ",EXTRA",  # line 7: malformed
        _row("9990000042", "7 Park Row"),  # line 8
    ]
    result = _ingest(tmp_path, "\n".join(lines) + "\n")
    assert result.records.select("source_line", "address").rows() == [
        (2, "Flat 2\n1 High Street"),
        (4, '12, "The Old Mill"\nMill Lane\nLeeds'),
        (8, "7 Park Row"),
    ]
    assert result.quarantine.select("source_line", "reason", "raw_line").rows() == [
        (7, "malformed_line", lines[3])
    ]
    assert result.reconciliation.rows_in == 4


def test_quoted_line_break_with_crlf_line_ends(tmp_path: Path) -> None:
    text = "\r\n".join([HEADER, _row("9990000018", '"Flat 2\r\n1 High Street"'), _row("9990000026", "x")])
    result = _ingest(tmp_path, text + "\r\n")
    assert result.records.select("source_line", "address").rows() == [(2, "Flat 2\n1 High Street"), (4, "x")]


def test_an_unbalanced_quote_never_swallows_the_records_after_it(tmp_path: Path) -> None:
    good = [_row("9990000018", f"{n} Road", given=f"A{n}") for n in range(30)]
    lines = [HEADER, _row("9990000018", '"Flat 2'), *good]
    result = _ingest(tmp_path, "\n".join(lines) + "\n")
    assert result.quarantine.select("source_line", "reason").rows() == [(2, "malformed_line")]
    assert result.reconciliation.rows_in == 31
    assert result.records["source_line"].head(3).to_list() == [3, 4, 5]


def test_a_file_cut_inside_its_last_quoted_field_is_rejected(tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("9990000018", "1 Road"), _row("9990000026", '"Flat 2\n1 Hi')])
    with pytest.raises(ExtractFileError) as info:
        _ingest(tmp_path, text)
    assert str(info.value) == (
        f"{FILE}: truncated: the last record (line 4) has no newline and is not complete "
        "(cut inside its last field?)"
    )


def test_a_file_cut_after_a_line_break_inside_a_quoted_field_quarantines_that_record(tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("9990000018", "1 Road"), _row("9990000026", '"Flat 2')]) + "\n"
    result = _ingest(tmp_path, text)
    assert result.quarantine.select("source_line", "reason").rows() == [(3, "malformed_line")]
    assert result.reconciliation.loaded == 1


def test_cr_only_line_ends_are_read(tmp_path: Path) -> None:
    text = "\r".join([HEADER, _row("9990000018", "1 Road"), _row("9990000026", "2 Road")]) + "\r"
    result = _ingest(tmp_path, text)
    assert result.records.select("source_line", "address").rows() == [(2, "1 Road"), (3, "2 Road")]


def test_mixed_cr_only_line_ends_are_named(tmp_path: Path) -> None:
    text = HEADER + "\r" + _row("9990000018", "1 Road") + "\n" + _row("9990000026", "2 Road") + "\n"
    with pytest.raises(ExtractFileError) as info:
        _ingest(tmp_path, text)
    assert str(info.value) == (
        f"{FILE}: line 1 (the header) holds a carriage return inside it: mixed CR-only and LF line "
        "ends; resend with LF or CRLF line ends"
    )


def test_a_carriage_return_inside_a_data_line_quarantines_it(tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("9990000018", "1 Road\r2 Road"), _row("9990000026", "x")]) + "\n"
    result = _ingest(tmp_path, text)
    assert result.quarantine.select("source_line", "reason").rows() == [(2, "control_character")]
    assert result.records["source_line"].to_list() == [3]


def test_a_header_with_a_stray_quote_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExtractFileError) as info:
        _ingest(tmp_path, 'NHS_Number,"Practice_Code\n')
    assert str(info.value) == (
        f"{FILE}: line 1 (the header) is not one CSV record (stray or unbalanced quote)"
    )
