"""A load run under umask 000: identifiable files stay private, and no warehouse column leads back to a
landing row (issue #14 item 2).

The session's tiny synthetic ICS is generated and loaded under umask 000, as a careless service account
would have it (`tiny_ics` and `tiny_loaded`, tests/integration/conftest.py; the one shared load of
that ICS, read only). Then: every file under landing and the identifiable zone is 0600 in a 0700
folder; and no value of any warehouse column equals a landing file path, a (file, line) pair or a raw
provider record id or local person id of the landing files.
"""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import polars as pl
import pytest

from connectors.spec import EXTRACTS
from core.layout import Home
from pseudonymisation.lineage import RECORD_ID_COLUMNS


@pytest.fixture(scope="module")
def loaded_umask_000(tiny_ics: Path, tiny_loaded: Home) -> tuple[Path, Home]:
    """The tiny ICS and its shared load, both made under umask 000 (read only)."""
    # The witness that the load ran under umask 000: the Dagster instance folder beside the home is
    # made by the fixture with mkdir's default mode, which only an empty umask leaves at 0777.
    instance = tiny_loaded.root.parent / "instance"
    assert stat.S_IMODE(instance.stat().st_mode) == 0o777, oct(instance.stat().st_mode)
    return tiny_ics, tiny_loaded


def _modes(folder: Path) -> tuple[list[str], list[str]]:
    """Files not 0600 and folders not 0700 under (and including) ``folder``."""
    paths = [folder, *folder.rglob("*")]
    wide_files = [str(p) for p in paths if p.is_file() and stat.S_IMODE(p.stat().st_mode) != 0o600]
    wide_dirs = [str(p) for p in paths if p.is_dir() and stat.S_IMODE(p.stat().st_mode) != 0o700]
    return wide_files, wide_dirs


def test_identifiable_files_are_0600_in_0700_folders_under_umask_000(
    loaded_umask_000: tuple[Path, Home],
) -> None:
    data, home = loaded_umask_000
    for kind in ("quarantine", "staged"):
        assert any((home.identifiable / kind).rglob("*.parquet")), kind
    for path in (home.gp_master, home.trace_results, home.opt_outs, home.vault):
        assert path.exists(), path
    assert not home.token_map.exists()  # deleted before the warehouse is built
    assert _modes(home.identifiable) == ([], [])
    assert _modes(data / "landing") == ([], [])


def _landing_ids(landing: Path) -> tuple[set[str], set[tuple[str, int]], set[str]]:
    """Landing file paths (relative and absolute), (file, line) pairs and raw record/person ids."""
    paths: set[str] = set()
    pairs: set[tuple[str, int]] = set()
    ids: set[str] = set()
    for source, extract in EXTRACTS.items():
        raw_ids = [c.name for c in extract.columns if c.canonical in (*RECORD_ID_COLUMNS, "la_person_id")]
        for path in sorted((landing / source).glob("*.csv")):
            rel = str(path.relative_to(landing))
            paths |= {rel, str(path), path.name}
            frame = pl.read_csv(path, infer_schema=False)
            pairs |= {(rel, line) for line in range(2, frame.height + 2)}
            for name in raw_ids:
                if name in frame.columns:
                    ids |= set(frame[name].drop_nulls().to_list())
    return paths, pairs, ids


def test_no_warehouse_column_locates_a_landing_row(loaded_umask_000: tuple[Path, Home]) -> None:
    data, home = loaded_umask_000
    paths, pairs, ids = _landing_ids(data / "landing")
    assert len(paths) > 10 and len(pairs) > 1000 and len(ids) > 1000
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        columns = con.sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
        # No column holds a landing path, so no row can pair one with a line number; and no table keeps
        # a path-and-line pair in two columns either.
        assert pairs
        hits = []
        for table, column in columns:
            values = {str(v) for (v,) in con.sql(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall()}
            # The ops count tables and the load log's inventory name the landing *file* a count or a
            # load decision is about (no line, no row): allowed.
            file_level = (
                table in ("reconciliation", "quarantine_summary", "opt_out_summary") and column == "file"
            ) or (table, column) == ("load_log", "landing_entry")
            if (values & paths and not file_level) or values & ids:
                hits.append(f"{table}.{column}")
        assert hits == []
        names = {c for _, c in columns}
        assert not names & {"source_file", "source_line"}
        (apc,) = con.sql(
            "SELECT count(*) FROM apc_episode WHERE regexp_matches(episode_id, '^R-[0-9a-f]{24}$')"
        ).fetchall()[0]
        (all_apc,) = con.sql("SELECT count(*) FROM apc_episode").fetchall()[0]
        assert apc == all_apc > 0
    finally:
        con.close()


def test_a_row_token_resolves_to_its_landing_row_in_the_identifiable_zone(
    loaded_umask_000: tuple[Path, Home],
) -> None:
    from tests.fixtures.cli import phm

    data, home = loaded_umask_000
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        token, month = con.sql(
            "SELECT row_token, source_month FROM ae_attendance ORDER BY row_token LIMIT 1"
        ).fetchall()[0]
    finally:
        con.close()
    resolved = phm("lineage", "resolve", token, "--home", str(home.root))
    assert resolved.returncode == 0, resolved.stderr
    file, line = resolved.stdout.strip().rsplit(":", 1)
    assert file == f"ecds/ecds_{month}.csv" and int(line) >= 2
    unknown = phm("lineage", "resolve", "L-" + "0" * 24, "--home", str(home.root))
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "phm: no staged record has this row token (a different lineage key, or a later load)"
    )
