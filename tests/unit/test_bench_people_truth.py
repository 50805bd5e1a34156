"""bench.people.true_unmatched on an inline truth and pseudonymised staged records: the exact unmatched
share among records that arrived untraceable, per true ethnic group and IMD quintile."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bench.people import _true_figures, true_unmatched
from core.layout import Home
from pseudonymisation import KeyProvider, LineageTokeniser


def test_exact_unmatched_share_per_true_group(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").prepare()
    truth = tmp_path / "truth"
    truth.mkdir()
    # Person 1 (White, decile 1): three untraceable A&E records, one traced by DBS, two unmatched of which
    # one shares its pseudo-ID with a social care record (clustered). Person 2 (Black, decile 10): one
    # untraceable record unmatched, one arriving with its number. Person 3: not loaded at all.
    rows = [
        ("ecds/2025-01.csv", 2, 1, True, False, "ecds", "2025-01", "P1", "dbs"),
        ("ecds/2025-01.csv", 3, 1, True, False, "ecds", "2025-01", "U1", "unmatched"),
        ("ecds/2025-02.csv", 2, 1, False, True, "ecds", "2025-02", "U2", "unmatched"),
        ("asc/2025-02.csv", 2, 1, False, False, "asc_cld", "2025-02", "U1", "unmatched"),
        ("ecds/2025-02.csv", 3, 2, True, False, "ecds", "2025-02", "U3", "unmatched"),
        ("ecds/2025-02.csv", 4, 2, False, False, "ecds", "2025-02", "P2", "nhs_number"),
        ("ecds/2025-02.csv", 5, 3, True, False, None, None, None, None),
    ]
    frame = pl.DataFrame(
        rows,
        schema=["file", "line", "person_id", "nhs_missing", "nhs_bad_check_digit", "source", "month",
                "person_token", "link_method"],
        orient="row",
    )  # fmt: skip
    frame.select("file", "line", "person_id", "nhs_missing", "nhs_bad_check_digit").write_parquet(
        truth / "records.parquet"
    )
    pl.DataFrame(
        {"person_id": [1, 2, 3], "ethnic_category": ["A", "M", "A"], "imd_decile": [1, 10, 5]}
    ).write_parquet(truth / "persons.parquet")
    lineage = LineageTokeniser(KeyProvider.dev(home.keys).lineage_key())
    loaded = frame.filter(pl.col("source").is_not_null())
    loaded = loaded.with_columns(lineage.row_tokens(loaded["file"], loaded["line"].cast(pl.Int64)))
    for (source, month), part in loaded.group_by("source", "month"):
        path = home.pseudo_staged(str(source), str(month))
        path.parent.mkdir(parents=True, exist_ok=True)
        part.select("row_token", "person_token", "link_method").write_parquet(path)

    exact = true_unmatched(truth, home)
    assert exact.rows() == [
        ("ethnic_group", "Black", 1, 1, 100.0),
        ("ethnic_group", "White", 3, 1, 33.3),
        ("imd_quintile", "1", 3, 1, 33.3),
        ("imd_quintile", "5", 1, 1, 100.0),
    ]
    figures = _true_figures(exact)
    assert figures["true_unmatched/ethnic_group White"] == "1 of 3 (33.3 %)"
    assert figures["true_unmatched_pct_spread/ethnic_group"] == 66.7
