"""eFI: score = deficits / 36; fit <= 0.12 < mild <= 0.24 < moderate <= 0.36 < severe.

The same table is run through the polars expressions and the DuckDB SQL fragments.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from cohort import frailty
from cohort.frailty import (
    EFI_CATEGORY_SQL,
    EFI_DEFICITS,
    EFI_SCORE_SQL,
    efi_category,
    efi_deficit_count,
    efi_score,
)

# person  deficits  score (4 dp)  category
EFI = [
    ("p00", 0,       0.0,          "fit"),
    ("p04", 4,       0.1111,       "fit"),        # last fit
    ("p05", 5,       0.1389,       "mild"),       # first mild
    ("p08", 8,       0.2222,       "mild"),       # last mild
    ("p09", 9,       0.25,         "moderate"),   # first moderate
    ("p12", 12,      0.3333,       "moderate"),   # last moderate
    ("p13", 13,      0.3611,       "severe"),     # first severe: 0.3611 > 0.36
    ("p36", 36,      1.0,          "severe"),
    ("pnn", None,    None,         None),         # no count, no category
]  # fmt: skip

TABLE = pl.DataFrame(
    {"person": [r[0] for r in EFI], "efi_deficits": [r[1] for r in EFI]},
    schema={"person": pl.String, "efi_deficits": pl.Int32},
)
EXPECTED = [(p, s, c) for p, _, s, c in EFI]


def _rounded(rows: list[tuple]) -> list[tuple]:
    return [(p, None if s is None else round(s, 4), c) for p, s, c in rows]


def test_polars_expressions() -> None:
    out = TABLE.select("person", efi_score().alias("score"), efi_category().alias("category"))
    assert _rounded(out.rows()) == EXPECTED


def test_duckdb_fragments() -> None:
    con = duckdb.connect()
    con.execute("SET python_enable_replacements=false")
    con.register("efi_input", TABLE)
    rows = con.sql(
        f"SELECT person, {EFI_SCORE_SQL} AS score, {EFI_CATEGORY_SQL} AS category FROM efi_input ORDER BY person"
    ).pl()
    assert _rounded(rows.rows()) == EXPECTED


def test_engines_agree_on_every_possible_count() -> None:
    every = pl.DataFrame({"efi_deficits": list(range(37))})
    con = duckdb.connect()
    con.register("every", every)
    sql = con.sql(
        f"SELECT {EFI_SCORE_SQL} AS score, {EFI_CATEGORY_SQL} AS category FROM every ORDER BY efi_deficits"
    ).pl()
    expr = every.select(efi_score().alias("score"), efi_category().alias("category"))
    assert sql["category"].to_list() == expr["category"].to_list()
    # the engines may differ in the last bit of a double; never across a threshold (see categories)
    assert (sql["score"] - expr["score"]).abs().max() < 1e-12  # type: ignore[operator]
    assert sql["category"].value_counts(sort=True).sort("category").rows() == [
        ("fit", 5), ("mild", 4), ("moderate", 4), ("severe", 24)
    ]  # fmt: skip


def test_sql_fragments_use_the_python_constants() -> None:
    assert frailty.N_DEFICITS == len(EFI_DEFICITS) == len(set(EFI_DEFICITS)) == 36
    assert f"/ {frailty.N_DEFICITS})" in EFI_SCORE_SQL
    for threshold in (frailty.FIT_MAX, frailty.MILD_MAX, frailty.MODERATE_MAX):
        assert f"<= {threshold} " in EFI_CATEGORY_SQL
    assert all(f"'{c}'" in EFI_CATEGORY_SQL for c in frailty.CATEGORIES)


# deficits present (True) among the 36 columns -> count
def test_deficit_count_treats_missing_as_absent() -> None:
    row = {name: None for name in EFI_DEFICITS} | {"falls": True, "polypharmacy": True, "diabetes": False}
    frame = pl.DataFrame([row], schema={name: pl.Boolean for name in EFI_DEFICITS})
    assert frame.select(efi_deficit_count()).item() == 2


def test_deficit_count_needs_all_36() -> None:
    with pytest.raises(ValueError, match="needs 36 deficit columns, got 2"):
        efi_deficit_count(["falls", "diabetes"])
