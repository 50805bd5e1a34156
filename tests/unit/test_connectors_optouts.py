"""Opt-outs at source: NDOO register, Type 1 code in GP events, non-sharing practices."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from connectors import ExtractFileError, OptOuts, ingest_file, load_non_sharing, load_opt_outs
from connectors.spec import APC, GP_EVENTS, TYPE1_OPT_OUT_SNOMED
from core.layout import Home
from load.registers import load_registers

A, B, C, D, E = "9990000018", "9990000026", "9990000034", "9990000042", "9990000050"


def _put(landing: Path, rel: str, text: str) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _landing(tmp_path: Path) -> Path:
    _put(
        tmp_path,
        "registers/national_data_opt_out.csv",
        "NHS_Number,Recorded_Date\n999 000 0018,2024-01-02\n999-000-0026,2024-02-03\n,\n",
    )
    _put(
        tmp_path,
        "registers/non_sharing_practices.csv",
        "Practice_Code,Reason\nb99999,not signed\n C22222 ,x\n",
    )
    header = ",".join(GP_EVENTS.names)
    _put(
        tmp_path,
        "gp_events/gp_events_2025-04.csv",
        f"{header}\n"
        f"{C},A12345,E1,2025-04-01,{TYPE1_OPT_OUT_SNOMED},,\n"
        f"{E},A12345,E2,2025-04-01,22298006,,\n"
        f"{E},A12345,E{TYPE1_OPT_OUT_SNOMED},2025-04-01,22298006,,\n",  # the code as an event id: not an opt-out
    )
    _put(
        tmp_path,
        "gp_events/gp_events_2025-05.csv",
        f"{header}\n"
        f"999 000 0042,A12345,E9,2025-05-01,{TYPE1_OPT_OUT_SNOMED},,,extra\n"  # malformed: read conservatively
        f"{A},A12345,E1,2025-05-02,{TYPE1_OPT_OUT_SNOMED},,",
    )
    return tmp_path


def test_load_opt_outs_reads_ndoo_and_type1(tmp_path: Path) -> None:
    opt_outs = load_opt_outs(_landing(tmp_path))
    assert opt_outs.ndoo == frozenset({A, B})
    assert opt_outs.type1 == frozenset({A, C, D})
    assert len(opt_outs) == 4


def test_load_non_sharing(tmp_path: Path) -> None:
    assert load_non_sharing(_landing(tmp_path)) == frozenset({"B99999", "C22222"})


def test_missing_register_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(ExtractFileError) as info:
        load_opt_outs(tmp_path)
    assert str(info.value) == "registers/national_data_opt_out.csv: unreadable (No such file or directory)"


def test_register_with_wrong_header(tmp_path: Path) -> None:
    _put(tmp_path, "registers/non_sharing_practices.csv", "Practice,Reason\nB99999,x\n")
    with pytest.raises(ExtractFileError) as info:
        load_non_sharing(tmp_path)
    assert str(info.value) == (
        "registers/non_sharing_practices.csv: header does not match the spec; "
        "missing columns: Practice_Code; 1 unknown column(s) at position 1 (names not shown)"
    )


def test_apply_keeps_null_nhs_numbers_and_counts_without_practice_column() -> None:
    frame = pl.DataFrame({"nhs_number": [A, None, E, B]}, schema={"nhs_number": pl.String})
    kept, removed = OptOuts(ndoo=frozenset({A}), type1=frozenset({B})).apply(frame, source="asc_cld")
    assert kept["nhs_number"].to_list() == [None, E]
    assert removed.rows() == [("asc_cld", None, "ndoo", 1), ("asc_cld", None, "type1", 1)]


def test_type1_removes_rows_across_sources(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    opt_outs = load_opt_outs(landing)
    kw = {"landing": landing, "opt_outs": opt_outs, "non_sharing": frozenset[str](), "load_id": "L1"}
    gp = ingest_file("gp_events", landing / "gp_events/gp_events_2025-04.csv", **kw)  # type: ignore[arg-type]
    assert gp.records["nhs_number"].to_list() == [E, E]
    assert gp.reconciliation.opted_out == {"type1": 1}

    diag = ",I210,,,,,,,1,1950-06-30,A,M1 1AE,A12345,E01000001"
    apc_rows = [
        f"{C},RXX,EP1,S1,1,2025-04-01,21,19,2025-04-01,2025-04-02,2025-04-02,1{diag}",  # type1
        f"{B},RXX,EP2,S2,1,2025-04-01,21,19,2025-04-01,2025-04-02,2025-04-02,1{diag}",  # ndoo
        f"{E},RXX,EP3,S3,1,2025-04-01,21,19,2025-04-01,2025-04-02,2025-04-02,1{diag}",  # kept
    ]
    path = _put(landing, "apc/apc_2025-04.csv", ",".join(APC.names) + "\n" + "\n".join(apc_rows) + "\n")
    apc = ingest_file("apc", path, **kw)  # type: ignore[arg-type]
    assert apc.records["episode_id"].to_list() == ["EP3"]
    assert apc.removed.select("practice_code", "route", "rows").rows() == [
        ("A12345", "ndoo", 1),
        ("A12345", "type1", 1),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "9990000018.0",  # a spreadsheet's number
        "'9990000018",  # a spreadsheet's text marker
        "9.990000018E+09",  # exact scientific notation (all ten digits)
        "999 000 0018",
        "999-000-0018",
        " 9990000018 ",
    ],
)
def test_every_register_shape_of_one_number_is_honoured(tmp_path: Path, entry: str) -> None:
    _put(tmp_path, "registers/national_data_opt_out.csv", f"NHS_Number,Recorded_Date\n{entry},2024-01-02\n")
    assert load_opt_outs(tmp_path).ndoo == frozenset({A})


@pytest.mark.parametrize(
    "entry", ["9990000019", "9.99000002E+09", "99900000", "NOT KNOWN", "9990000018.5", ""]
)
def test_an_unreadable_register_entry_stops_the_load_with_its_line(tmp_path: Path, entry: str) -> None:
    _put(
        tmp_path,
        "registers/national_data_opt_out.csv",
        f"NHS_Number,Recorded_Date\n{A},2024-01-02\n{entry},2024-01-03\n",
    )
    with pytest.raises(ExtractFileError) as info:
        load_opt_outs(tmp_path)
    assert str(info.value) == (
        "registers/national_data_opt_out.csv: NHS_Number on line(s) 3 is not a valid NHS number "
        "(value not shown); an objection cannot be dropped, so nothing is loaded until the register "
        "is corrected"
    )


def test_a_malformed_register_line_stops_the_load(tmp_path: Path) -> None:
    _put(tmp_path, "registers/national_data_opt_out.csv", f'NHS_Number,Recorded_Date\n{A},2024,x\n"{B},\n')
    with pytest.raises(ExtractFileError) as info:
        load_opt_outs(tmp_path)
    assert str(info.value) == (
        "registers/national_data_opt_out.csv: malformed line(s) 2, 3: every objection must be read"
    )


def test_a_type1_line_without_a_readable_number_stops_the_load(tmp_path: Path) -> None:
    _put(tmp_path, "registers/national_data_opt_out.csv", "NHS_Number,Recorded_Date\n")
    header = ",".join(GP_EVENTS.names)
    _put(
        tmp_path,
        "gp_events/gp_events_2025-04.csv",
        f"{header}\n{C},A12345,E1,2025-04-01,22298006,,\n9990000019,A12345,E2,2025-04-01,{TYPE1_OPT_OUT_SNOMED},,\n",
    )
    with pytest.raises(ExtractFileError) as info:
        load_opt_outs(tmp_path)
    assert str(info.value) == (
        "gp_events/gp_events_2025-04.csv: Type 1 opt-out on line(s) 3 has no valid NHS number (value not "
        "shown); an objection cannot be dropped, so nothing is loaded until the file is corrected"
    )


def test_type1_from_every_delivery_and_kept_across_loads(tmp_path: Path) -> None:
    landing = _landing(tmp_path / "landing")
    header = ",".join(GP_EVENTS.names)
    _put(
        landing,
        "gp_events/gp_events_2025-06_v2.csv",
        f"{header}\n{E},A12345,E1,2025-06-01,{TYPE1_OPT_OUT_SNOMED},,\n",
    )
    _put(landing, "reference/postcode_lsoa.csv", "Postcode,LSOA21CD\nM1 1AE,E01000001\n")
    _put(
        landing,
        "reference/practices.csv",
        "Practice_Code,Practice_Name,PCN_Code,PCN_Name,Place,Practice_Postcode\n"
        "A12345,Kestrel Medical Centre,U87528,Northvale East 1 PCN,Northvale,QA4 1HG\n",
    )
    _put(
        landing,
        "reference/lsoa_imd.csv",
        "LSOA21CD,LSOA21NM,IMD_Decile,Place\nE01000001,Northvale 032,6,Northvale\n",
    )
    home = Home(tmp_path / "home").prepare()
    assert load_registers(landing, home).opt_outs.type1 == frozenset({A, C, D, E})
    for name in ("gp_events_2025-04.csv", "gp_events_2025-05.csv", "gp_events_2025-06_v2.csv"):
        (landing / "gp_events" / name).unlink()  # a later, one-month landing: the files have gone
    assert load_registers(landing, home).opt_outs.type1 == frozenset({A, C, D, E})
