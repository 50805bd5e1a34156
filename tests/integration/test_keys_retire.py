"""After `phm keys rotate` and `phm keys retire --confirm`, nothing under the home holds an old key or a
token made with it: every file is read (parquet and DuckDB value by value, the rest as bytes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.fixtures.cli import phm
from tests.fixtures.release_home import TinyHome, make_home


@pytest.fixture
def tiny(tmp_path: Path) -> TinyHome:
    return make_home(tmp_path)


def _values(path: Path) -> list[str]:
    """Every text value of a parquet or DuckDB file (their bytes are compressed)."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return [str(v) for c in frame.columns if frame[c].dtype == pl.String for v in frame[c].drop_nulls()]
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: list[str] = []
        for table, column in con.sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall():
            out += [str(v) for (v,) in con.sql(f'SELECT "{column}" FROM "{table}"').fetchall() if v]
        return out
    finally:
        con.close()


def _holding(root: Path, needles: set[str], key_bytes: set[bytes]) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(k in data for k in key_bytes):
            found.append(f"{path.relative_to(root)} (key)")
        text = _values(path) if path.suffix in (".parquet", ".duckdb") else [data.decode("latin-1")]
        if any(n in v for v in text for n in needles):
            found.append(str(path.relative_to(root)))
    return found


def test_no_old_key_or_old_token_under_the_home_after_rotate_and_retire(tiny: TinyHome) -> None:
    home = tiny.home
    old_tokens = set(tiny.people["person_token"].to_list())
    # Derived files of the cohort stage (issue #14: 2,796 old tokens were left in HOME/cohort/*.parquet).
    home.cohort_dir.mkdir()
    tiny.people.select("person_token", "risk_score").write_parquet(home.cohort_dir / "scores.parquet")
    pl.DataFrame(
        {"nhs_number": tiny.people["nhs_number"], "person_token": tiny.people["person_token"]}
    ).write_parquet(home.token_map)
    old_keys = {
        p.read_bytes().strip() for p in home.keys.glob("*_key_v1.key") if not p.name.startswith("audit")
    }
    assert len(old_keys) == 2 and _holding(home.root, old_tokens, old_keys)  # the scan finds them before

    rotated = phm("keys", "rotate", "--home", str(home.root))
    assert rotated.returncode == 0, rotated.stderr
    unconfirmed = phm("keys", "retire", "--home", str(home.root))
    assert unconfirmed.returncode == 2
    assert unconfirmed.stderr.strip() == (
        "phm: the home holds no token of v1; destroying the retired keys cannot be undone: add --confirm"
    )
    assert sorted(p.name for p in (home.keys / "retired").iterdir()) == [
        "token_key_v1.key",
        "vault_key_v1.key",
    ]

    retired = phm("keys", "retire", "--confirm", "--home", str(home.root))
    assert retired.returncode == 0, retired.stderr
    assert re.fullmatch(
        r"retired keys v1 destroyed: 2 key files; no old-version token left under .+ \(audit seq \d+\)\n",
        retired.stdout,
    )
    assert _holding(home.root, old_tokens, old_keys) == []
    assert list((home.keys / "retired").iterdir()) == []
    scores = pl.read_parquet(home.cohort_dir / "scores.parquet")
    assert scores.height == 6 and scores["person_token"].str.starts_with("P2-").all()
    last = json.loads(home.audit_log.read_text().splitlines()[-1])
    assert (last["event"], last["outcome"]) == ("key_retire", "granted")


def test_retire_is_refused_and_audited_while_an_old_token_remains(tiny: TinyHome) -> None:
    home = tiny.home
    old = tiny.people["person_token"][0]
    assert phm("keys", "rotate", "--home", str(home.root)).returncode == 0
    (home.reports / "stray.csv").write_text(f"person_token\n{old}\n")
    refused = phm("keys", "retire", "--confirm", "--home", str(home.root))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "phm: key retirement refused: old-version tokens remain, keys kept: reports/stray.csv: 1"
    )
    assert old not in refused.stderr
    assert len(list((home.keys / "retired").iterdir())) == 2
    last = json.loads(home.audit_log.read_text().splitlines()[-1])
    assert (last["event"], last["outcome"], last["reason"]) == ("key_retire", "denied", "old_tokens_remain")
