"""Per-file stages run several files at once (threads): same files out, a bad file fails only itself.

On the tiny synthetic ICS: the load steps over every source's real files, without Dagster."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import load as steps
from connectors.spec import EXTRACTS
from core.layout import Home
from pseudonymisation import KeyProvider
from tests.fixtures.landing_edits import without_manifest


@pytest.fixture(scope="module")
def landing(tiny_ics: Path) -> Path:
    return tiny_ics / "landing"


def load(
    landing: Path, root: Path, keys_dir: Path, *, pooled: bool = False
) -> tuple[Home, list[steps.MonthOutcome], dict[str, steps.StageCounts]]:
    """Ingest every file and pseudonymise every source (keys from `keys_dir`): source by source, or with
    `pooled` every source's files at once, as Dagster's `pseudonymised_sources` step and `phm bench
    pipeline` do."""
    home = Home(root).prepare()
    registers = steps.load_registers(landing, home)
    pairs = [(s, m) for s in EXTRACTS for m in steps.landing_months(landing)]
    outcomes = steps.ingest_months(pairs, landing, home, registers, "test-load")
    steps.build_gp_master(home)
    steps.trace_records(home, probabilistic=False)
    keys = KeyProvider.dev(keys_dir)
    steps.build_token_map(home, keys, registers)
    if pooled:
        return home, outcomes, steps.pseudonymise_sources(EXTRACTS, home, keys, registers)
    return home, outcomes, {s: steps.pseudonymise_source(s, home, keys, registers) for s in EXTRACTS}


def outputs(home: Home) -> dict[str, pl.DataFrame]:
    root = home.root
    return {
        str(p.relative_to(root)): pl.read_parquet(p)
        for zone in ("identifiable/staged", "pseudonymised")
        for p in sorted((root / zone).rglob("*.parquet"))
    }


def test_two_workers_write_exactly_what_one_writes(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHM_WORKERS", "1")
    one, outcomes_one, _ = load(landing, tmp_path / "one", tmp_path / "keys")
    monkeypatch.setenv("PHM_WORKERS", "2")
    two, outcomes_two, _ = load(landing, tmp_path / "two", tmp_path / "keys")
    assert outcomes_one == outcomes_two
    assert [(o.source, o.month) for o in outcomes_two] == [
        (s, m) for s in EXTRACTS for m in ("2026-08", "2026-09", "2026-10")
    ]
    first, second = outputs(one), outputs(two)
    assert sorted(first) == sorted(second)
    # 9 sources x 3 months, each: identifiable staged, pseudonymised staged, and counts of quarantine,
    # opt-outs and reconciliation.
    assert len(first) == 5 * 9 * 3
    for name, frame in first.items():
        assert_frame_equal(frame, second[name], check_row_order=True)


def test_every_source_in_one_pool_writes_and_counts_exactly_what_source_by_source_does(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHM_WORKERS", "3")
    apart, _, counts_apart = load(landing, tmp_path / "apart", tmp_path / "keys")
    pooled, _, counts_pooled = load(landing, tmp_path / "pooled", tmp_path / "keys", pooled=True)
    assert list(counts_pooled) == list(EXTRACTS)
    assert counts_pooled == counts_apart
    written = (pooled.root / "pseudonymised" / "staged").rglob("*.parquet")
    assert sum(c.loaded for c in counts_pooled.values()) == sum(pl.read_parquet(p).height for p in written)
    first, second = outputs(apart), outputs(pooled)
    assert sorted(first) == sorted(second)
    assert len(first) == 5 * 9 * 3
    for name, frame in first.items():
        assert_frame_equal(frame, second[name], check_row_order=True)


def _expected_counts(ics: Path, file: str) -> steps.StageCounts:
    """What the connector must report for one file, from the generator's truth: malformed lines and
    impossible dates quarantined, duplicates excluded, then people who opted out removed (only rows
    arriving with a valid NHS number can be matched to an opt-out at source)."""
    records = pl.read_parquet(ics / "truth" / "records.parquet").with_columns(pl.col("file").cast(pl.String))
    persons = pl.read_parquet(ics / "truth" / "persons.parquet").select("person_id", "ndoo", "type1_opt_out")
    rows = records.filter(pl.col("file") == file).join(persons, on="person_id")
    rejected = pl.col("malformed_line") | pl.col("bad_date")
    kept = rows.filter(~rejected & ~pl.col("duplicate"))
    opted_out = kept.filter(
        (pl.col("ndoo") | pl.col("type1_opt_out")) & ~pl.col("nhs_missing") & ~pl.col("nhs_bad_check_digit")
    ).height
    return steps.StageCounts(
        rows_in=rows.height,
        loaded=kept.height - opted_out,
        quarantined=rows.filter(rejected).height,
        opted_out=opted_out,
        excluded=rows.filter(~rejected & pl.col("duplicate")).height,
    )


def test_a_bad_file_fails_only_its_month(tiny_ics: Path, tmp_path: Path) -> None:
    data = tmp_path / "landing"
    shutil.copytree(tiny_ics / "landing", data)
    without_manifest(data / "ecds" / "ecds_2026-09.csv").write_bytes(b"")
    (data / "apc" / "apc_2026-10.csv").unlink()
    home = Home(tmp_path / "home").prepare()
    registers = steps.load_registers(data, home)
    outcomes = steps.ingest_months(
        [("ecds", "2026-08"), ("ecds", "2026-09"), ("apc", "2026-10"), ("ecds", "2026-10")],
        data, home, registers, "test-load",
    )  # fmt: skip
    assert [(o.month, o.error) for o in outcomes] == [
        ("2026-08", None),
        ("2026-09", "ecds/ecds_2026-09.csv: empty file (no header row)"),
        ("2026-10", None),
        ("2026-10", None),
    ]
    assert outcomes[2].counts is None  # no apc file that month
    data_lines = len((data / "ecds" / "ecds_2026-08.csv").read_text().splitlines()) - 1
    assert outcomes[0].counts == _expected_counts(tiny_ics, "ecds/ecds_2026-08.csv")
    assert outcomes[0].counts.rows_in == data_lines
    assert outcomes[3].counts == _expected_counts(tiny_ics, "ecds/ecds_2026-10.csv")
    assert steps.staged_months(home, "ecds") == ["2026-08", "2026-10"]
