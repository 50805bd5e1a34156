"""The load's use of landing: resubmissions replace, manifests checked per file, months in order."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import load
from connectors import ExtractFileError, OptOuts
from connectors.landing import inventory
from connectors.manifest import manifest_text
from connectors.spec import OUTPATIENTS
from core.layout import Home
from linkage.warehouse.schema import LANDING_INVENTORY
from load.registers import Registers

NONE = Registers(OptOuts(), frozenset(), pl.DataFrame())


def _file(month: str, keys: list[str]) -> bytes:
    rows = [f"9990000018,RXX01,{k},{month}-03,5,1,110,1,1950-06-30,A,M1 1AE,A12345" for k in keys]
    return ("\n".join([",".join(OUTPATIENTS.names), *rows]) + "\n").encode()


def _put(landing: Path, rel: str, data: bytes, *, manifest_rows: int | None = None) -> None:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if manifest_rows is not None:
        text = manifest_text(path.name, manifest_rows, data)
        path.with_name(path.name + ".manifest.json").write_text(text, encoding="utf-8")


def _ingest(landing: Path, home: Home, months: list[str]) -> dict[str, str | int | None]:
    pairs = [("outpatients", m) for m in months]
    outcomes = load.ingest_months(pairs, landing, home, NONE, "L1")
    return {o.month: o.error if o.error else (o.counts.loaded if o.counts else None) for o in outcomes}


def test_a_resubmission_replaces_the_month(tmp_path: Path) -> None:
    landing, home = tmp_path / "landing", Home(tmp_path / "home").prepare()
    _put(landing, "outpatients/outpatients_2026-03.csv", _file("2026-03", ["K1", "K2", "K3"]))
    _put(landing, "outpatients/outpatients_2026-03_v2.csv", _file("2026-03", ["K1", "K2"]))
    assert _ingest(landing, home, ["2026-03"]) == {"2026-03": 2}
    staged = pl.read_parquet(home.staged("outpatients", "2026-03"))
    assert staged["source_file"].unique().to_list() == ["outpatients/outpatients_2026-03_v2.csv"]


def test_a_manifest_row_mismatch_fails_only_that_file(tmp_path: Path) -> None:
    landing, home = tmp_path / "landing", Home(tmp_path / "home").prepare()
    _put(landing, "outpatients/outpatients_2026-03.csv", _file("2026-03", ["K1", "K2"]), manifest_rows=3)
    _put(landing, "outpatients/outpatients_2026-04.csv", _file("2026-04", ["K4"]), manifest_rows=1)
    _put(landing, "outpatients/outpatients_2026-05.csv", _file("2026-05", ["K5"]))  # no manifest: loads
    assert _ingest(landing, home, ["2026-03", "2026-04", "2026-05"]) == {
        "2026-03": "outpatients/outpatients_2026-03.csv: 2 data rows read but its manifest says 3",
        "2026-04": 1,
        "2026-05": 1,
    }
    assert not home.staged("outpatients", "2026-03").exists()  # nothing of the failed file written


def test_the_inventory_is_kept_for_load_log(tmp_path: Path) -> None:
    landing, home = tmp_path / "landing", Home(tmp_path / "home").prepare()
    _put(landing, "outpatients/outpatients_2026-03.csv", _file("2026-03", ["K1"]))
    _put(landing, "outpatients/op_2026-03.csv", b"x")
    path = load.write_inventory(home, inventory(landing))
    assert path == home.ops_dir / LANDING_INVENTORY
    assert pl.read_parquet(path).rows() == [
        ("outpatients/op_2026-03.csv", "not_loaded", "unexpected name"),
        ("outpatients/outpatients_2026-03.csv", "loaded", "no manifest (control totals not checked)"),
    ]


def test_a_malformed_reference_file_is_reported_as_itself(tmp_path: Path) -> None:
    landing, home = tmp_path / "landing", Home(tmp_path / "home").prepare()
    _put(landing, "registers/national_data_opt_out.csv", b"NHS_Number,Recorded_Date\n")
    _put(landing, "registers/non_sharing_practices.csv", b"Practice_Code,Reason\n")
    _put(landing, "reference/postcode_lsoa.csv", b"Postcode,LSOA21CD\nM1 1AE,E01000001\n")
    _put(landing, "reference/lsoa_imd.csv", b"LSOA21CD,LSOA21NM,IMD_Decile,Place\nE01000001,A,3,P\n")
    practice = b"Practice_Code,Practice_Name,PCN_Code,PCN_Name,Place,Practice_Postcode\n"
    row = b"A12345,Surgery,U12345,PCN,P,M1 1AE\n"
    _put(landing, "reference/practices.csv", practice + row + row)
    with pytest.raises(ExtractFileError) as info:
        load.load_registers(landing, home)
    assert str(info.value) == "reference/practices.csv: practice_code repeated on line(s) 2, 3"
