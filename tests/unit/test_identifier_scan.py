"""The publish-time identifier scan refuses a warehouse with an identifier planted in a text column.

Each identifier kind is planted in `ae_attendance.arrival_time` (a text column a connector once let a
name into) of the small staged home; the build must refuse, naming table, column, kind and count only,
and leave nothing published.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from linkage.warehouse import open_read_only
from linkage.warehouse.identifier_scan import IdentifierFound
from pseudonymisation.name_digests import NameDigests
from tests.fixtures.release_home import nhs_number
from tests.fixtures.staged_home import STAGED, build, write_home

NAMES = NameDigests(pl.Series(["Jane", "Smith", "O'Brien"]))


def _planted(tmp_path: Path, value: str) -> dict[str, Path]:
    staged = dict(STAGED)
    (row,) = staged[("ecds", "2025-01")]
    staged[("ecds", "2025-01")] = [{**row, "arrival_time": value}]
    return write_home(tmp_path / "home", staged)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (nhs_number(123456), "nhs_number"),
        (f"{nhs_number(223344)[:3]} {nhs_number(223344)[3:6]} {nhs_number(223344)[6:]}", "nhs_number"),
        ("LS1 4AB", "postcode"),
        ("ls14ab", "postcode"),
        ("1950-03-12", "date_of_birth"),
        ("12/03/1950", "date_of_birth"),
        ("Jane Smith", "name"),
        ("o'brien", "name"),
    ],
)
def test_a_planted_identifier_stops_the_publish(tmp_path: Path, value: str, kind: str) -> None:
    dirs = _planted(tmp_path, value)
    out = tmp_path / "w.duckdb"
    with pytest.raises(IdentifierFound) as caught:
        build(dirs, out, identifier_names=NAMES)
    message = str(caught.value)
    assert message == f"identifier scan refused the warehouse: ae_attendance.arrival_time: 1 {kind} value(s)"
    assert value not in message
    assert not out.exists()


def test_a_clean_warehouse_publishes_and_near_misses_are_not_hits(tmp_path: Path) -> None:
    """Ten digits failing modulus 11, a bare time, a month and a word that is no GP name all pass."""
    valid = nhs_number(1)
    invalid = valid[:9] + str((int(valid[9]) + 1) % 10)  # one check digit per prefix: this one fails
    for i, value in enumerate((invalid, "14:05", "1950-03", "Riverside")):
        dirs = _planted(tmp_path / str(i), value)
        out = tmp_path / str(i) / "w.duckdb"
        build(dirs, out, identifier_names=NAMES)
        (got,) = open_read_only(out).execute("SELECT arrival_time FROM ae_attendance").fetchall()[0]
        assert got == value


def test_the_name_set_holds_digests_not_names() -> None:
    assert "JANE" in NAMES and "SMITH" in NAMES and "OBRIEN" in NAMES
    assert "RIVERSIDE" not in NAMES and "J" not in NAMES
    assert repr(NAMES) == "NameDigests(3 names)"
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle

        pickle.dumps(NAMES)
