"""Scoring against truth (bench.truth, bench.link): exact precision, recall and F1 on inline records."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from bench.link import trace_quality
from bench.truth import linkage_accuracy
from core.layout import Home
from pseudonymisation import Key, Tokeniser
from tests.fixtures.lineage import with_row_tokens

# Synthetic NHS numbers from the reserved 999 range (valid modulus 11).
A, B, C, D = "9990000018", "9990000026", "9990000034", "9990000042"
TOKENISER = Tokeniser(Key("token", 1, hashlib.sha256(b"phm-test-bench-truth").digest()), domain="warehouse")


def _token(nhs: str) -> str:
    return str(TOKENISER.tokenise(pl.Series([nhs]))[0])


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Path, Home]:
    """Truth for six records and the pseudonymised staged rows a load left for five of them."""
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    apc, asc = "apc/apc_2025-04.csv", "asc_cld/asc_cld_2025-04.csv"
    pl.DataFrame(
        {
            "source": ["apc", "apc", "apc", "apc", "apc", "asc_cld"],
            "file": [apc, apc, apc, apc, apc, asc],
            "line": [2, 3, 4, 5, 6, 2],
            "person_id": [1, 2, 4, 1, 1, 2],
            "nhs_number": [A, B, D, A, A, B],
            "nhs_missing": [True, True, False, False, True, True],
            "nhs_bad_check_digit": [False, False, True, False, False, False],
        }
    ).write_parquet(truth_dir / "records.parquet")
    home = Home(tmp_path / "home")
    rows = {
        "apc": [(apc, 2, _token(A)), (apc, 3, _token(C)), (apc, 4, "U1-00000000000000000000000000000000"),
                (apc, 5, _token(A))],  # line 6 was quarantined: not loaded
        "asc_cld": [(asc, 2, _token(B))],
    }  # fmt: skip
    for source, staged in rows.items():
        home.pseudo_staged(source).mkdir(parents=True)
        frame = pl.DataFrame(staged, schema=["file", "line", "person_token"], orient="row")
        with_row_tokens(home, frame).drop("file", "line").write_parquet(home.pseudo_staged(source, "2025-04"))
    home.gp_master.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"nhs_number": [A, B, C]}).write_parquet(home.gp_master)
    return truth_dir, home


def test_linkage_accuracy_scores_loaded_records_without_a_valid_nhs_number(loaded: tuple[Path, Home]) -> None:
    truth_dir, home = loaded
    # Scored: apc lines 2 (right), 3 (wrong person), 4 (unmatched, not in the master) and asc_cld line 2.
    assert linkage_accuracy(truth_dir, home, TOKENISER) == {
        "precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "recall_all": 0.5,
        "records": 4, "linked": 3, "correct": 2, "in_master": 3,
    }  # fmt: skip
    assert linkage_accuracy(truth_dir, home, TOKENISER, sources=["asc_cld"]) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "recall_all": 1.0,
        "records": 1, "linked": 1, "correct": 1, "in_master": 1,
    }  # fmt: skip


def test_without_a_gp_master_every_record_counts_as_findable(loaded: tuple[Path, Home]) -> None:
    truth_dir, home = loaded
    home.gp_master.unlink()
    figures = linkage_accuracy(truth_dir, home, TOKENISER)
    assert (figures["in_master"], figures["recall"], figures["recall_all"]) == (4, 0.5, 0.5)


def test_trace_quality_counts_links_against_true_nhs_numbers() -> None:
    traced = pl.DataFrame({"nhs_number": [A, C, None, B]})
    truth = pl.Series([A, B, None, None], dtype=pl.String)  # the last person is not in the master
    assert trace_quality(traced, truth) == {
        "precision": 0.3333, "recall": 0.5, "f1": 0.4, "linked": 3, "correct": 1, "in_master": 2,
    }  # fmt: skip
