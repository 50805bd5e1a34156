"""Reference readers: typed frames with canonical names, clear errors on broken files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from connectors import ExtractFileError, read_reference


def _put(landing: Path, rel: str, text: str) -> None:
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    (landing / rel).write_text(text, encoding="utf-8")


def test_practices(tmp_path: Path) -> None:
    _put(
        tmp_path,
        "reference/practices.csv",
        "Practice_Code,Practice_Name,PCN_Code,PCN_Name,Place,Practice_Postcode\n"
        'a12345,"Smith, Jones & Partners",u12345,North PCN,Northtown,nt1 1aa\n',
    )
    frame = read_reference(tmp_path, "practices")
    assert frame.rows() == [
        ("A12345", "Smith, Jones & Partners", "U12345", "North PCN", "Northtown", "NT1 1AA")
    ]


def test_lsoa_imd_and_postcodes(tmp_path: Path) -> None:
    _put(
        tmp_path,
        "reference/lsoa_imd.csv",
        "LSOA21CD,LSOA21NM,IMD_Decile,Place\nE01000001,Northtown 001A,1,Northtown\nE01000002,Northtown 001B,10,Northtown\n",
    )
    _put(tmp_path, "reference/postcode_lsoa.csv", "Postcode,LSOA21CD\nnt11aa,E01000001\nNT1 1AB,e01000002\n")
    imd = read_reference(tmp_path, "lsoa_imd")
    assert imd.schema["imd_decile"] == pl.Int8
    assert imd.select("lsoa21", "imd_decile").rows() == [("E01000001", 1), ("E01000002", 10)]
    pc = read_reference(tmp_path, "postcode_lsoa")
    assert pc.rows() == [("NT1 1AA", "E01000001"), ("NT1 1AB", "E01000002")]


@pytest.mark.parametrize(
    ("name", "rel", "text", "message"),
    [
        (
            "lsoa_imd",
            "reference/lsoa_imd.csv",
            "LSOA21CD,LSOA21NM,IMD_Decile,Place\nE01000001,a,0,p\nE01000002,b,x,p\nE01000003,c,5,p\n",
            "reference/lsoa_imd.csv: IMD_Decile is not a whole number 1-10 on line(s) 2, 3",
        ),
        (
            "postcode_lsoa",
            "reference/postcode_lsoa.csv",
            "Postcode,LSOA21CD\nNT1 1AA,E01000001\nnt11aa,E01000002\n",
            "reference/postcode_lsoa.csv: postcode repeated on line(s) 2, 3",
        ),
        (
            "practices",
            "reference/practices.csv",
            "Practice_Code,Practice_Name\nA12345,x\n",
            "reference/practices.csv: header does not match the spec; missing columns: PCN_Code, PCN_Name, "
            "Place, Practice_Postcode",
        ),
        (
            "postcode_lsoa",
            "reference/postcode_lsoa.csv",
            "Postcode,LSOA21CD\nNT1 1AA,E01000001,extra\n",
            "reference/postcode_lsoa.csv: not a well-formed CSV (wrong number of fields on some line)",
        ),
        (
            "practices",
            "reference/missing.csv",
            "",
            "reference/practices.csv: unreadable (No such file or directory)",
        ),
    ],
    ids=["bad_decile", "duplicate_key", "missing_columns", "ragged", "missing_file"],
)
def test_reference_errors(tmp_path: Path, name: str, rel: str, text: str, message: str) -> None:
    _put(tmp_path, rel, text)
    with pytest.raises(ExtractFileError) as info:
        read_reference(tmp_path, name)
    assert str(info.value) == message
