"""Readers of the generator's answer key, `DATA/truth/` (benchmarks and tests; never the pipeline).

`truth_frame` gives the risk model's oracle per warehouse token; `linkage_accuracy` scores tracing on a
loaded synthetic ICS. Both tokenise true NHS numbers with the installation's warehouse key so truth can
be compared with the pseudonymised zone without re-identifying anything in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl

from core.layout import Home
from pseudonymisation import KeyProvider, LineageTokeniser, Tokeniser


def truth_frame(truth_dir: Path, tokenise: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """(person_token, p_true, outcome) from the generator's truth/persons.parquet, tokenised by the caller.

    `tokenise` maps NHS numbers to warehouse tokens (e.g. `Tokeniser(keys.token_key()).tokenise`).
    """
    persons = pl.read_parquet(
        truth_dir / "persons.parquet", columns=["nhs_number", "p_emerg_12m", "outcome_emerg_12m"]
    )
    return pl.DataFrame(
        {
            "person_token": tokenise(persons["nhs_number"]),
            "p_true": persons["p_emerg_12m"],
            "outcome": persons["outcome_emerg_12m"],
        }
    )


def _loaded_records(truth: pl.DataFrame, home: Home, wanted: set[str] | None) -> pl.DataFrame:
    """The truth rows that reached the pseudonymised staged records of `home`, with their token.

    Staged records keep no landing file and line (only a keyed row token), so the truth's (file, line)
    are tokenised with the home's dev lineage key and matched on that.
    """
    files = [
        p
        for p in sorted(home.pseudo_staged_dir.glob("*/*.parquet"))
        if wanted is None or p.parent.name in wanted
    ]
    frames = [pl.read_parquet(p, columns=["row_token", "person_token"]) for p in files]
    if not frames:
        return truth.head(0).with_columns(pl.lit(None, pl.String).alias("person_token"))
    lineage = LineageTokeniser(KeyProvider.dev(home.keys).lineage_key())
    truth = truth.with_columns(lineage.row_tokens(truth["file"], truth["line"].cast(pl.Int64)))
    return truth.join(pl.concat(frames), on="row_token", how="inner").drop("row_token")


def linkage_accuracy(
    truth_dir: Path,
    home: Home,
    tokeniser: Tokeniser,
    *,
    sources: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Precision, recall and F1 of tracing on a loaded synthetic ICS (tests and benchmarks only).

    The records are those that arrived without a valid NHS number (truth `nhs_missing` or
    `nhs_bad_check_digit`) and were loaded (matched on file and line to the pseudonymised staged
    records of `home`). A record is linked when its token is a `P` token; correct when it equals the
    tokenised true NHS number (`tokeniser`: the warehouse-domain `pseudonymisation.Tokeniser`).
    precision = correct / linked; recall = correct among the records whose person is in the GP
    demographic master / those records (the ones tracing could find; every record when the master is
    not there);
    `recall_all` = correct / every record. `truth_dir` is `DATA/truth`.
    """
    wanted = set(sources) if sources is not None else None
    truth = pl.read_parquet(truth_dir / "records.parquet").with_columns(
        pl.col("file").cast(pl.String), pl.col("source").cast(pl.String)
    )
    truth = truth.filter(pl.col("nhs_missing") | pl.col("nhs_bad_check_digit"))
    if wanted is not None:
        truth = truth.filter(pl.col("source").is_in(sorted(wanted)))
    got = _loaded_records(truth, home, wanted)
    expected = tokeniser.tokenise(got.get_column("nhs_number").cast(pl.String))
    got = got.with_columns(expected.alias("expected"))
    if home.gp_master.exists():
        in_master = set(pl.read_parquet(home.gp_master, columns=["nhs_number"])["nhs_number"].to_list())
        got = got.with_columns(pl.col("nhs_number").is_in(sorted(in_master)).alias("in_master"))
    else:
        got = got.with_columns(pl.lit(True).alias("in_master"))
    linked = got.get_column("person_token").str.starts_with("P").fill_null(False)
    correct = linked & (got.get_column("person_token") == got.get_column("expected")).fill_null(False)
    n_records, n_linked, n_correct = got.height, int(linked.sum()), int(correct.sum())
    master_rows = got.get_column("in_master")
    n_master = int(master_rows.sum())
    # Records of people outside the master can be linked too (through their cluster's other records,
    # `linkage.cluster`); recall counts only the master's people, so it stays a share.
    n_correct_master = int((correct & master_rows).sum())
    precision = n_correct / n_linked if n_linked else 1.0
    recall = n_correct_master / n_master if n_master else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "recall_all": round(n_correct / n_records, 4) if n_records else 1.0,
        "records": n_records,
        "linked": n_linked,
        "correct": n_correct,
        "in_master": n_master,
    }


def person_count_accuracy(truth_dir: Path, home: Home) -> dict[str, Any]:
    """The warehouse's `person` count against the true number of people (tests and benchmarks only).

    True people: distinct truth `person_id` among the records that reached the pseudonymised staged
    records (matched on file and line), so opted-out and quarantined people are not expected. `split`
    counts true people carrying more than one token (one person counted as several), `merged` tokens
    shared by more than one true person (several people counted as one).
    """
    from linkage.warehouse import open_read_only

    truth = pl.read_parquet(truth_dir / "records.parquet", columns=["file", "line", "person_id"])
    got = _loaded_records(truth.with_columns(pl.col("file").cast(pl.String)), home, None)
    con = open_read_only(home.warehouse)
    try:
        people = con.execute("SELECT count(*) FROM person").fetchall()[0][0]
    finally:
        con.close()
    true_people = got.get_column("person_id").n_unique()
    tokens_per_person = got.group_by("person_id").agg(pl.col("person_token").n_unique().alias("n"))
    people_per_token = got.group_by("person_token").agg(pl.col("person_id").n_unique().alias("n"))
    return {
        "person_rows": int(people),
        "true_people": true_people,
        "error_pct": round(100.0 * (int(people) - true_people) / true_people, 3) if true_people else 0.0,
        "split_people": tokens_per_person.filter(pl.col("n") > 1).height,
        "merged_tokens": people_per_token.filter(pl.col("n") > 1).height,
    }
