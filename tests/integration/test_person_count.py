"""`person` counts people, not records: the shared small-ICS load against the generator's truth.

Reads the one shared load (`loaded`); no load of its own. The true number of people is the distinct
truth persons among the records that were loaded (`bench.truth.person_count_accuracy`).
"""

from __future__ import annotations

from pathlib import Path

from bench.truth import person_count_accuracy
from core.layout import Home
from tests.fixtures.cli import phm


def test_person_count_is_within_half_a_percent_of_the_true_number_of_people(
    small_ics: Path, loaded: Home
) -> None:
    figures = person_count_accuracy(small_ics / "truth", loaded)
    assert figures["true_people"] > 2_500
    assert abs(figures["person_rows"] - figures["true_people"]) <= 0.005 * figures["true_people"], figures
    # Several people counted as one would hide inside a count that looks right: few merged tokens.
    assert figures["merged_tokens"] <= 0.001 * figures["true_people"], figures


def test_the_load_kept_the_cluster_membership_private(loaded: Home) -> None:
    import stat

    import polars as pl

    assert stat.S_IMODE(loaded.clusters.stat().st_mode) == 0o600
    assert stat.S_IMODE(loaded.clusters.parent.stat().st_mode) == 0o700
    membership = pl.read_parquet(loaded.clusters)
    assert membership.height > 0
    assert membership.get_column("record_key").is_unique().all()
    # One pseudonymised row per record: every clustered number is also a staged source's number.
    staged = pl.concat(
        pl.read_parquet(p, columns=["link_method"]) for p in loaded.pseudo_staged_dir.glob("*/*.parquet")
    )
    assert staged.filter(pl.col("link_method") == "clustered").height > 0


def test_bench_people_prints_the_figures_and_one_json_line(small_ics: Path, loaded: Home) -> None:
    import json

    done = phm("bench", "people", "--data", str(small_ics), "--home", str(loaded.root))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["stage"] == "people"
    assert figures == {**figures, **person_count_accuracy(small_ics / "truth", loaded)}
    assert "unmatched_pct_spread/imd_quintile" in figures
    assert any(key.startswith("imd_quintile ") for key in figures)


def test_bench_people_without_a_load_says_so(tmp_path: Path, small_ics: Path) -> None:
    done = phm("bench", "people", "--data", str(small_ics), "--home", str(tmp_path / "nothing"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"phm: no warehouse in {tmp_path / 'nothing'}: load it first "
        f"(phm run --data {small_ics} --home {tmp_path / 'nothing'})"
    ]
