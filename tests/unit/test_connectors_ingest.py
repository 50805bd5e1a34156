"""ingest_file: every quarantine reason, exclusions, NHS number status and the row accounting."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from nhs_number import is_valid

from connectors import (
    QUARANTINE_REASONS,
    ExtractFileError,
    OptOuts,
    Reconciliation,
    ReconciliationError,
    ingest_file,
)
from connectors.spec import ASC_CLD, GP_EVENTS, OUTPATIENTS

A, B, C, D = "9990000018", "9990000026", "9990000034", "9990000042"
_PSR, _SVC = "Mental Health Support", "Long Term Support: Nursing"  # on the CLD code lists


def _write(landing: Path, source: str, month: str, lines: list[str], header: list[str]) -> Path:
    path = landing / source / f"{source}_{month}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([",".join(header), *lines]) + "\n", encoding="utf-8")
    return path


def _ingest(source: str, path: Path, landing: Path, **kw: object):  # type: ignore[no-untyped-def]
    args: dict = {"opt_outs": OptOuts(), "non_sharing": frozenset(), "load_id": "L1", **kw}
    return ingest_file(source, path, landing=landing, **args)


def test_fixture_numbers_are_valid_test_range() -> None:
    assert all(is_valid(n) and n.startswith("999") for n in (A, B, C, D))


def test_every_row_reason_on_gp_events(tmp_path: Path) -> None:
    good = f"{A},A12345,E1,2025-04-01,22298006,,"
    lines = [
        good,  # 2 loaded
        f"{A},A12345,,2025-04-02,22298006,,",  # 3 missing_required (Event_ID)
        f"{A},A12345,E3,2025-02-30,22298006,,",  # 4 invalid_date (impossible)
        f"{A},A12345,E4,2025-04-04,12AB5,,",  # 5 invalid_code (SNOMED not digits)
        f"{A},A12345,E5,2025-04-05,22298006,abc,",  # 6 invalid_number
        f"{A},A12345,E6,2025-05-01,22298006,,",  # 7 future_date (after the file's month)
        f"{A},A12345,E7,2025-04-07,22298006,,,",  # 8 malformed_line (extra field)
        f"{A},a12345 , E8 ,2025-04-08, 22298006 ,7.5,kg",  # 9 loaded after normalisation
        good,  # 10 duplicate of line 2: excluded
        f"{A},A12345,E10,2025-03-15,22298006,,",  # 11 earlier month: kept (late record)
        f"{A},A12345,,2025-13-01,x,,",  # 12 several problems: the first reason wins
        f"{A},A1234,E12,2025-04-12,22298006,,",  # 13 invalid_code (practice not ODS shape)
    ]
    path = _write(tmp_path, "gp_events", "2025-04", lines, GP_EVENTS.names)
    result = _ingest("gp_events", path, tmp_path)
    assert result.quarantine.select("source_line", "reason").rows() == [
        (3, "missing_required"),
        (4, "invalid_date"),
        (5, "invalid_code"),
        (6, "invalid_number"),
        (7, "future_date"),
        (8, "malformed_line"),
        (12, "missing_required"),
        (13, "invalid_code"),
    ]
    assert result.quarantine["raw_line"][0] == lines[1]
    assert result.records.select(
        "source_line", "practice_code", "event_id", "snomed_code", "value"
    ).rows() == [
        (2, "A12345", "E1", "22298006", None),
        (9, "A12345", "E8", "22298006", 7.5),
        (11, "A12345", "E10", "22298006", None),
    ]
    assert result.records["event_date"].to_list() == [date(2025, 4, 1), date(2025, 4, 8), date(2025, 3, 15)]
    assert result.records.schema["event_date"] == pl.Date
    assert result.records["source_file"].unique().to_list() == ["gp_events/gp_events_2025-04.csv"]
    assert result.records["load_id"].unique().to_list() == ["L1"]
    rec = result.reconciliation
    assert (rec.rows_in, rec.loaded, rec.excluded, rec.opted_out) == (12, 3, {"duplicate": 1}, {})
    assert rec.quarantined == {
        "future_date": 1,
        "invalid_code": 2,
        "invalid_date": 1,
        "invalid_number": 1,
        "malformed_line": 1,
        "missing_required": 2,
    }
    assert result.quarantine_counts.rows() == [
        ("gp_events", "gp_events/gp_events_2025-04.csv", "2025-04", "future_date", 1),
        ("gp_events", "gp_events/gp_events_2025-04.csv", "2025-04", "invalid_code", 2),
        ("gp_events", "gp_events/gp_events_2025-04.csv", "2025-04", "invalid_date", 1),
        ("gp_events", "gp_events/gp_events_2025-04.csv", "2025-04", "invalid_number", 1),
        ("gp_events", "gp_events/gp_events_2025-04.csv", "2025-04", "malformed_line", 1),
        ("gp_events", "gp_events/gp_events_2025-04.csv", "2025-04", "missing_required", 2),
    ]
    assert set(rec.quarantined) <= set(QUARANTINE_REASONS)


def test_asc_day_first_dates_end_before_start_and_as_of(tmp_path: Path) -> None:
    def row(ref: str, start: str, end: str, ethnic: str = "a", dob: str = "01/02/1940") -> str:
        return f"LA1,{B},Ann,Smith,{dob},Female,{ethnic},ls1  4ap,{ref},Service,{start},{end},{_PSR},{_SVC}"

    lines = [
        row("R1", "02/04/2025", "10/04/2025"),  # 2 loaded
        row("R2", "10/04/2025", "02/04/2025"),  # 3 end_before_start
        row("R3", "2025-04-02", ""),  # 4 invalid_date (ISO in a DD/MM/YYYY feed)
        row("R4", "25/04/2025", ""),  # 5 future_date (after as_of)
        row("R5", "03/04/2025", "", ethnic="x"),  # 6 invalid_code (ethnic category)
        row("R6", "04/04/2025", "", ethnic=" "),  # 7 loaded, ethnic blank -> null
        row("R7", "05/04/2025", "", dob="31/02/1940"),  # 8 invalid_date (date of birth)
    ]
    path = _write(tmp_path, "asc_cld", "2025-04", lines, ASC_CLD.names)
    result = _ingest("asc_cld", path, tmp_path, as_of=date(2025, 4, 20))
    assert result.quarantine.select("source_line", "reason").rows() == [
        (3, "end_before_start"),
        (4, "invalid_date"),
        (5, "future_date"),
        (6, "invalid_code"),
        (8, "invalid_date"),
    ]
    got = result.records.select(
        "source_line",
        "event_id",
        "event_start",
        "event_end",
        "date_of_birth",
        "sex",
        "ethnic_category",
        "postcode",
        "practice_shares_gp_data",
    )
    assert got.rows() == [
        (2, "R1", date(2025, 4, 2), date(2025, 4, 10), date(1940, 2, 1), "F", "A", "LS1 4AP", None),
        (7, "R6", date(2025, 4, 4), None, date(1940, 2, 1), "F", None, "LS1 4AP", None),
    ]


def test_nhs_number_status_in_records(tmp_path: Path) -> None:
    def row(nhs: str, key: str) -> str:
        return f"{nhs},RXX01,{key},2025-04-03,5,1,110,1,1950-06-30,A,M1 1AE,A12345"

    lines = [row("999 000 0018", "K1"), row("999-000-0026", "K2"), row("9990000019", "K3"), row("", "K4")]
    path = _write(tmp_path, "outpatients", "2025-04", lines, OUTPATIENTS.names)
    result = _ingest("outpatients", path, tmp_path)
    assert result.records.select("attendance_id", "nhs_number", "nhs_number_status", "sex").rows() == [
        ("K1", A, "valid", "M"),
        ("K2", B, "valid", "M"),
        ("K3", None, "invalid", "M"),
        ("K4", None, "missing", "M"),
    ]
    assert result.quarantine.height == 0


def test_non_sharing_practice_excludes_gp_rows_and_flags_others(tmp_path: Path) -> None:
    gp = [
        f"{A},A12345,E1,2025-04-01,22298006,,",  # 2 loaded
        f"{B},b99999,E2,2025-04-02,22298006,,",  # 3 excluded: practice not sharing (code normalised)
        f"{B},b99999,E2,2025-04-02,22298006,,",  # 4 duplicate wins over not sharing
        f"{C},B99999,E3,2025-04-03,22298006,,",  # 5 not sharing wins over the opt-out
    ]
    gp_path = _write(tmp_path, "gp_events", "2025-04", gp, GP_EVENTS.names)
    opt_outs = OptOuts(ndoo=frozenset({C}))
    result = _ingest("gp_events", gp_path, tmp_path, non_sharing=frozenset({"B99999"}), opt_outs=opt_outs)
    assert result.records["source_line"].to_list() == [2]
    assert result.records["practice_shares_gp_data"].to_list() == [True]
    assert result.reconciliation.excluded == {"duplicate": 1, "practice_not_sharing": 2}
    assert result.reconciliation.opted_out == {}

    op = [
        f"{B},RXX01,K1,2025-04-03,5,1,110,2,1950-06-30,A,M1 1AE,B99999",
        f"{A},RXX01,K2,2025-04-03,5,1,110,2,1950-06-30,A,M1 1AE,A12345",
        f"{A},RXX01,K3,2025-04-03,5,1,110,2,1950-06-30,A,M1 1AE,",
    ]
    op_path = _write(tmp_path, "outpatients", "2025-04", op, OUTPATIENTS.names)
    result = _ingest("outpatients", op_path, tmp_path, non_sharing=frozenset({"B99999"}))
    assert result.records.select("attendance_id", "practice_shares_gp_data").rows() == [
        ("K1", False),
        ("K2", True),
        ("K3", None),
    ]


def test_opt_outs_removed_and_counted_by_practice_and_route(tmp_path: Path) -> None:
    def row(nhs: str, key: str, practice: str) -> str:
        return f"{nhs},RXX01,{key},2025-04-03,5,1,110,2,1950-06-30,A,M1 1AE,{practice}"

    lines = [
        row(A, "K1", "A12345"),  # ndoo
        row(B, "K2", "A12345"),  # type1
        row(C, "K3", "A12345"),  # on both: counted once, as ndoo
        row(A, "K4", "C11111"),  # ndoo, other practice
        row(D, "K5", "A12345"),  # kept
        row("9990000019", "K6", "A12345"),  # invalid NHS number: kept (null), traced later
    ]
    path = _write(tmp_path, "outpatients", "2025-05", lines, OUTPATIENTS.names)
    opt_outs = OptOuts(ndoo=frozenset({A, C}), type1=frozenset({B, C}))
    result = _ingest("outpatients", path, tmp_path, opt_outs=opt_outs)
    assert result.records["attendance_id"].to_list() == ["K5", "K6"]
    assert result.removed.rows() == [
        ("outpatients", "outpatients/outpatients_2025-05.csv", "2025-05", "A12345", "ndoo", 2),
        ("outpatients", "outpatients/outpatients_2025-05.csv", "2025-05", "A12345", "type1", 1),
        ("outpatients", "outpatients/outpatients_2025-05.csv", "2025-05", "C11111", "ndoo", 1),
    ]
    rec = result.reconciliation
    assert (rec.rows_in, rec.loaded, rec.opted_out) == (6, 2, {"ndoo": 3, "type1": 1})
    assert rec.as_dict()["opted_out"] == 4


def test_reconciliation_error_names_file_and_numbers_only() -> None:
    rec = Reconciliation(
        source="apc",
        file="apc/apc_2025-04.csv",
        month="2025-04",
        rows_in=10,
        loaded=6,
        quarantined={"invalid_date": 1},
        opted_out={"ndoo": 1},
        excluded={"duplicate": 1},
    )
    with pytest.raises(ReconciliationError) as info:
        rec.check()
    assert str(info.value) == (
        "apc/apc_2025-04.csv: rows_in=10 != loaded=6 + quarantined=1 + opted_out=1 + excluded=1 (= 9)"
    )


def test_reconciliation_frame_is_counts_only(tmp_path: Path) -> None:
    path = _write(tmp_path, "gp_events", "2025-04", [f"{A},A12345,E1,2025-04-01,22298006,,"], GP_EVENTS.names)
    frame = _ingest("gp_events", path, tmp_path).reconciliation.as_frame()
    assert frame.row(0, named=True) | {} == {
        "source": "gp_events",
        "file": "gp_events/gp_events_2025-04.csv",
        "month": "2025-04",
        "rows_in": 1,
        "loaded": 1,
        "quarantined": 0,
        "opted_out": 0,
        "excluded": 0,
        **{f"quarantined_{r}": 0 for r in QUARANTINE_REASONS},
        "opted_out_ndoo": 0,
        "opted_out_type1": 0,
        "excluded_duplicate": 0,
        "excluded_practice_not_sharing": 0,
    }


def test_unknown_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        _ingest("nope", tmp_path / "x.csv", tmp_path)
    assert issubclass(ExtractFileError, ValueError)
