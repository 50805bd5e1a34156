"""Typed, bounded, clean values at the connector: nothing off its column's shape is loaded as text.

The planted-identifier test runs over the spec itself (every extract, every column that is not
identifiable), so a column added without a type or pattern fails it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import OptOuts, ingest_file
from connectors.columns import Column, Extract
from connectors.spec import EXTRACTS, PATTERNS

ON_DATE = "2025-04-10"  # every date of the template row: inside the file's month, ends not before starts
SAMPLES = {  # a valid value for every pattern of the spec
    "nhs_number": "9990000026",
    "ods_practice": "A12345",
    "ods_provider": "RXX01",
    "snomed": "22298006",
    "dmd": "317896006",
    "icd10": "I210",
    "opcs4": "K401",
    "lsoa21": "E01000001",
    "ethnic_category": "A",
    "postcode": "LS1 4AP",
    "record_id": "ID0001",
    "time_hhmm": "10:30",
    "dd_code": "11",
}
PLANTED = {"name": "Smith", "postcode": "LS1 4AP", "nhs_number": "9990000018"}


def _valid(extract: Extract, c: Column) -> str:
    if c.dtype == "date":
        return ON_DATE if extract.date_format == "%Y-%m-%d" else "10/04/2025"
    if c.dtype in ("int", "float"):
        return "1"
    if c.pattern is not None:
        return SAMPLES[c.pattern]
    if c.codes is not None:
        return sorted(c.codes)[0]
    return "F" if c.canonical == "sex" else "Ann"


def _ingest(tmp_path: Path, extract: Extract, values: dict[str, str]):  # type: ignore[no-untyped-def]
    row = ",".join(values.get(c.canonical, _valid(extract, c)) for c in extract.columns)
    path = tmp_path / extract.source / f"{extract.source}_2025-04.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",".join(extract.names) + "\n" + row + "\n", encoding="utf-8")
    result = ingest_file(
        extract.source, path, landing=tmp_path, opt_outs=OptOuts(), non_sharing=frozenset(), load_id="L1"
    )
    result.reconcile()
    return result


def test_every_column_has_a_shape_and_free_text_never_reaches_the_warehouse() -> None:
    shapes = {c.shape for e in EXTRACTS.values() for c in e.columns}
    assert "unchecked" not in shapes
    free = sorted({c.canonical for e in EXTRACTS.values() for c in e.columns if c.free_text})
    assert free == ["address", "family_name", "given_name"]
    assert all(c.identifiable for e in EXTRACTS.values() for c in e.columns if c.free_text)
    assert set(SAMPLES) == set(PATTERNS)


@pytest.mark.parametrize("source", sorted(EXTRACTS))
def test_the_template_row_of_each_extract_is_loaded(tmp_path: Path, source: str) -> None:
    result = _ingest(tmp_path, EXTRACTS[source], {})
    assert (result.reconciliation.loaded, result.quarantine.height) == (1, 0)


_CASES = [
    pytest.param(source, c.canonical, kind, id=f"{source}.{c.canonical}.{kind}")
    for source, e in sorted(EXTRACTS.items())
    for c in e.columns
    if not c.identifiable
    for kind in PLANTED
]


@pytest.mark.parametrize(("source", "column", "kind"), _CASES)
def test_a_planted_identifier_is_quarantined_or_nulled(
    tmp_path: Path, source: str, column: str, kind: str
) -> None:
    extract = EXTRACTS[source]
    result = _ingest(tmp_path, extract, {column: PLANTED[kind]})
    if column == "sex":  # an unrecognised sex code is 'U' (unknown), never the text
        assert result.records[column].to_list() == ["U"]
        return
    assert result.records.height == 0
    assert result.quarantine.height == 1
    assert result.quarantine["reason"][0] in {
        "invalid_code",
        "invalid_date",
        "invalid_number",
        "identifier_in_field",
        "value_too_long",
    }


def test_an_nhs_number_in_a_snomed_column_is_an_identifier_in_the_wrong_field(tmp_path: Path) -> None:
    result = _ingest(tmp_path, EXTRACTS["gp_events"], {"snomed_code": "999 000 0018".replace(" ", "")})
    assert result.quarantine["reason"].to_list() == ["identifier_in_field"]


def test_a_ten_million_character_value_is_too_long(tmp_path: Path) -> None:
    result = _ingest(tmp_path, EXTRACTS["ecds"], {"arrival_time": "1" * 10_000_000})
    assert result.quarantine["reason"].to_list() == ["value_too_long"]
    assert result.records.height == 0


def test_a_name_longer_than_free_text_allows_is_too_long(tmp_path: Path) -> None:
    extract = EXTRACTS["gp_patients"]
    ok = _ingest(tmp_path / "a", extract, {"family_name": "é" * 100})  # 100 characters, 200 bytes
    assert ok.reconciliation.loaded == 1
    long = _ingest(tmp_path / "b", extract, {"family_name": "x" * 101})
    assert long.quarantine["reason"].to_list() == ["value_too_long"]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\t", "\x7f"], ids=["nul", "escape", "tab", "del"])
def test_control_characters_quarantine_the_row(tmp_path: Path, char: str) -> None:
    result = _ingest(tmp_path, EXTRACTS["gp_patients"], {"given_name": f"An{char}n"})
    assert result.quarantine["reason"].to_list() == ["control_character"]
    assert result.records.height == 0


def test_activity_after_the_files_month_is_future_date(tmp_path: Path) -> None:
    result = _ingest(
        tmp_path, EXTRACTS["ecds"], {"arrival_date": "2025-05-01", "departure_date": "2025-05-01"}
    )
    assert result.quarantine["reason"].to_list() == ["future_date"]


def test_numbers_outside_their_bounds_are_invalid(tmp_path: Path) -> None:
    result = _ingest(tmp_path, EXTRACTS["apc"], {"episode_order": "0"})
    assert result.quarantine["reason"].to_list() == ["invalid_number"]


def test_code_lists_compare_case_insensitively_and_keep_the_value(tmp_path: Path) -> None:
    result = _ingest(tmp_path, EXTRACTS["mhsds"], {"record_type": "referral"})
    assert result.records["record_type"].to_list() == ["referral"]


@pytest.mark.parametrize(
    ("source", "nhs", "reason"),
    [
        ("gp_patients", "9990000019", "invalid_nhs_number"),  # bad check digit: the death would be lost
        ("gp_patients", "", "missing_required"),
        ("gp_events", "9990000019", "invalid_nhs_number"),  # used to fail the warehouse build
        ("gp_medications", "99900000", "invalid_nhs_number"),
    ],
)
def test_a_gp_row_without_a_valid_nhs_number_is_quarantined_not_loaded(
    tmp_path: Path, source: str, nhs: str, reason: str
) -> None:
    values = {"nhs_number": nhs, "date_of_death": ON_DATE}
    result = _ingest(tmp_path, EXTRACTS[source], values)
    assert result.quarantine["reason"].to_list() == [reason]
    assert (result.reconciliation.loaded, result.reconciliation.quarantined) == (0, {reason: 1})


def test_a_secondary_care_row_with_a_bad_check_digit_is_loaded_for_tracing(tmp_path: Path) -> None:
    result = _ingest(tmp_path, EXTRACTS["apc"], {"nhs_number": "9990000019"})
    assert result.records.select("nhs_number", "nhs_number_status").rows() == [(None, "invalid")]
