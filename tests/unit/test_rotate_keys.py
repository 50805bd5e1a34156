"""Key rotation end to end on a tiny home: new tokens everywhere, re-identification still works, old
tokens no longer resolve, old keys retired, an interrupted commit is finished on resume."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pseudonymisation import KeyProvider, Tokeniser, Vault
from pseudonymisation.release.release import release
from pseudonymisation.rotate import RotationError, rotate_keys
from tests.fixtures.release_home import NOW, TinyHome, copy_home, make_home


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> TinyHome:
    """The fixture installation, built once for the module; tests change it, so each takes a copy."""
    return make_home(tmp_path_factory.mktemp("installed"))


@pytest.fixture
def tiny(installed: TinyHome, tmp_path: Path) -> TinyHome:
    return copy_home(installed, tmp_path)


def _warehouse_tokens(tiny: TinyHome) -> dict[str, set[str]]:
    con = duckdb.connect(str(tiny.home.warehouse), read_only=True)
    try:
        out = {}
        for table in ("person", "cohort_member", "risk_score"):
            out[table] = {t for (t,) in con.sql(f"SELECT person_token FROM {table}").fetchall()}
        return out
    finally:
        con.close()


def test_rotation_end_to_end(tiny: TinyHome) -> None:
    # An untraced person (pseudo-ID, no vault entry) in the staged data must be carried over too.
    staged_path = tiny.home.pseudo_staged("gp_events", "2026-10")
    pseudo = Tokeniser(tiny.keys.token_key()).pseudo_id("asc", pl.Series(["LA-1"]))[0]
    staged = pl.read_parquet(staged_path)
    staged = pl.concat(
        [staged, pl.DataFrame({"person_token": [pseudo], "practice_code": ["A81001"], "event_id": ["E9"]})]
    )
    staged.write_parquet(staged_path)
    old_tokens = tiny.people["person_token"].to_list()
    # The last load's token map (NHS number -> version-1 token, in the clear) must not outlive the key.
    pl.DataFrame({"nhs_number": ["9990000018"], "person_token": [old_tokens[0]]}).write_parquet(
        tiny.home.token_map
    )

    result = rotate_keys(tiny.home, tiny.home.keys, now=NOW)
    assert not tiny.home.token_map.exists()
    assert (result.old_version, result.new_version) == (1, 2)
    assert result.tokens == 6 and result.pseudo_ids == 1 and result.staged_files == 1
    assert not tiny.home.rotation_journal.exists()

    keys = KeyProvider.from_directory(tiny.home.keys)
    assert keys.current_version() == 2
    assert keys.versions("token") == [2] and keys.versions("vault") == [2]
    retired = tiny.home.keys / "retired"
    assert sorted(p.name for p in retired.iterdir()) == ["token_key_v1.key", "vault_key_v1.key"]
    assert stat.S_IMODE(retired.stat().st_mode) == 0o700
    for name in ("token_key_v2.key", "vault_key_v2.key", "current_version"):
        assert stat.S_IMODE((tiny.home.keys / name).stat().st_mode) == 0o600

    expected = dict(
        zip(
            Tokeniser(keys.token_key()).tokenise(tiny.people["nhs_number"]).to_list(),
            tiny.people["nhs_number"].to_list(),
            strict=True,
        )
    )
    assert all(t.startswith("P2-") for t in expected)
    # Warehouse: every table rewritten, same people.
    for table, tokens in _warehouse_tokens(tiny).items():
        assert tokens <= set(expected), table
        assert not tokens & set(old_tokens), table
    # Staged parquet: rewritten, the pseudo-ID too.
    new_staged = pl.read_parquet(staged_path)["person_token"].to_list()
    assert set(new_staged[:-1]) == set(expected)
    assert new_staged[-1].startswith("U2-") and new_staged[-1] != pseudo
    # Vault: re-identification works with the new key; old tokens resolve to nothing.
    with Vault.open(tiny.home.vault, keys.vault_key(), read_only=True) as vault:
        assert vault.count() == 6
        assert vault.reidentify(list(expected)) == expected
        assert vault.reidentify(old_tokens) == {}
    # And the old vault key no longer exists for anyone to use.
    with pytest.raises(KeyError):
        keys.vault_key(1)


def test_release_after_rotation_still_reidentifies(tiny: TinyHome) -> None:
    rotate_keys(tiny.home, tiny.home.keys, now=NOW)
    outcome = release(
        home=tiny.home,
        landing=tiny.landing,
        purpose="frailty-review",
        cohort="frail_65_high_risk",
        practice="A81001",
        user="gp-a81001",
        now=NOW,
        keys=KeyProvider.from_directory(tiny.home.keys),
    )
    assert outcome.granted and outcome.count_released == 3


def test_release_is_refused_while_a_rotation_is_pending(tiny: TinyHome) -> None:
    tiny.home.rotation_journal.write_text(json.dumps({"stage": "preparing", "old": 1, "new": 2}))
    outcome = release(
        home=tiny.home,
        landing=tiny.landing,
        purpose="frailty-review",
        cohort="frail_65_high_risk",
        practice="A81001",
        user="gp-a81001",
        now=NOW,
        keys=tiny.keys,
    )
    assert outcome.reason == "vault_key_unavailable"


def test_interrupted_commit_is_completed_on_resume(tiny: TinyHome, monkeypatch: pytest.MonkeyPatch) -> None:
    import pseudonymisation.rotate as rotate

    real_commit = rotate._commit
    calls = {"n": 0}

    def crash_once(home, keys_dir, journal):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("power cut")
        real_commit(home, keys_dir, journal)

    monkeypatch.setattr(rotate, "_commit", crash_once)
    with pytest.raises(OSError):
        rotate_keys(tiny.home, tiny.home.keys, now=NOW)
    assert json.loads(tiny.home.rotation_journal.read_text())["stage"] == "committing"
    result = rotate_keys(tiny.home, tiny.home.keys, now=NOW)
    assert result.resumed and result.new_version == 2
    assert KeyProvider.from_directory(tiny.home.keys).current_version() == 2
    assert all(t.startswith("P2-") for t in _warehouse_tokens(tiny)["person"])


def test_unmapped_token_refuses_rotation_and_changes_nothing(tiny: TinyHome) -> None:
    staged_path = tiny.home.pseudo_staged("gp_events", "2026-10")
    stray = pl.DataFrame(
        {"person_token": ["P1-" + "0" * 32], "practice_code": ["A81001"], "event_id": ["E8"]}
    )
    pl.concat([pl.read_parquet(staged_path), stray]).write_parquet(staged_path)
    before = staged_path.read_bytes()
    with pytest.raises(RotationError, match="no vault entry"):
        rotate_keys(tiny.home, tiny.home.keys, now=NOW)
    assert staged_path.read_bytes() == before
    assert KeyProvider.from_directory(tiny.home.keys).current_version() == 1
    assert not tiny.home.rotation_journal.exists()
    assert not list(tiny.home.root.rglob("*rotating*"))
