"""One person for the unmatched (linkage.cluster, load.cluster, load.pseudonymise.apply_trace).

A tiny identifiable home written from inline rows: A&E (ecds) records over three months and social care
(asc_cld) records for people tracing could not find, plus filler people so Splink has a population to
estimate from. The pooled trace result is empty (nobody was traced), so every record without an NHS
number is in the residue the cluster stage works on.
"""

from __future__ import annotations

import hashlib
import stat
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.layout import Home
from linkage import review
from linkage.cluster import cluster_records
from linkage.cluster_ids import CHANGES_SCHEMA, MEMBERSHIP_SCHEMA, assign_ids, new_cluster_id
from load.cluster import cluster_untraced, read_membership
from load.pseudonymise import apply_trace
from load.trace import TRACE_SCHEMA
from pseudonymisation import Key, Tokeniser
from tests.fixtures.randomness import global_random_untouched

TOKENISER = Tokeniser(Key("token", 1, hashlib.sha256(b"phm-test-cluster").digest()), domain="warehouse")
GIVEN = ["Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo", "Freya", "Oscar",
         "Lily", "Harry", "Rosie", "Jack", "Grace", "Theo", "Evie", "Alfie"]  # fmt: skip
FAMILY = ["Patel", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Khan", "Walker", "Wright", "Hughes"]
# The unmatched person: "Jane Smith" at A&E, once keyed "Smyth", once with a lower-case postcode.
JANE = {"given_name": "Jane", "family_name": "Smith", "date_of_birth": date(1961, 4, 12), "sex": "F",
        "postcode": "LS6 2QT", "nhs_number": None}  # fmt: skip
# A person the GP master lacks (non-sharing practice) whose outpatient-style records carry a number.
KNOWN = {"given_name": "Priya", "family_name": "Okafor", "date_of_birth": date(1984, 9, 3), "sex": "F",
         "postcode": "LS9 7HG"}  # fmt: skip
KNOWN_NHS = "9990000018"


def _filler(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {"given_name": GIVEN[i % 20], "family_name": FAMILY[(i * 7) % 10],
         "date_of_birth": date(1940 + i % 50, 1 + i % 12, 1 + i % 28), "sex": "MF"[i % 2],
         "postcode": f"LS{1 + i % 20} {i % 9}AB", "nhs_number": None}
        for i in range(offset, offset + n)
    ]  # fmt: skip


def _write(home: Home, source: str, month: str, rows: list[dict[str, Any]]) -> None:
    schema = {**TRACE_SCHEMA, "nhs_number": pl.String}
    if source == "asc_cld":
        schema["la_person_id"] = pl.String
    frame = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)
    path = home.staged(source, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)


def _home(root: Path) -> Home:
    """Three months of A&E and one of social care; Jane in both sources and all three months."""
    h = Home(root).prepare()
    _write(h, "ecds", "2025-01", [JANE, *_filler(30), {**KNOWN, "nhs_number": KNOWN_NHS}])
    _write(h, "ecds", "2025-02", [{**JANE, "family_name": "Smyth"}, *_filler(30, 30)])
    _write(h, "ecds", "2025-03", [{**JANE, "postcode": "ls6 2qt"}, {**KNOWN, "nhs_number": None}])
    _write(h, "asc_cld", "2025-02", [{**JANE, "la_person_id": "LA-77"}, *_filler(5, 60)])
    pl.DataFrame({"nhs_number": ["9990000026"]}).write_parquet(h.gp_master)
    traced = pl.DataFrame(schema={**TRACE_SCHEMA, "nhs_number": pl.String, "link_method": pl.String,
                                  "link_confidence": pl.Float64})  # fmt: skip
    traced.write_parquet(h.trace_results)
    return h


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return _home(tmp_path / "home")


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, dict[str, int], pl.DataFrame]:
    """The home clustered once (read only): its counts and every record after `apply_trace`."""
    h = _home(tmp_path_factory.mktemp("clustered") / "home")
    with global_random_untouched():
        counts = cluster_untraced(h)
    return h, counts, _pseudonymised(h)


def _pseudonymised(home: Home) -> pl.DataFrame:
    """Every staged record after `apply_trace`, with its source and month."""
    traced = pl.read_parquet(home.trace_results)
    clusters = read_membership(home)
    frames = []
    for path in sorted(home.identifiable.glob("staged/*/*.parquet")):
        source, month = path.parent.name, path.stem
        records = pl.read_parquet(path)
        out = apply_trace(records, traced, TOKENISER, source, clusters)
        frames.append(out.with_columns(source=pl.lit(source), month=pl.lit(month)))
    return pl.concat(frames, how="diagonal_relaxed")


def _ids_of(frame: pl.DataFrame, given: str, family_prefix: str) -> set[str]:
    rows = frame.filter(
        (pl.col("given_name") == given) & pl.col("family_name").str.starts_with(family_prefix)
    )
    return set(rows.get_column("pseudo_id").to_list())


def test_the_same_unmatched_person_in_two_sources_and_three_months_gets_one_pseudo_id(
    clustered: tuple[Home, dict[str, int], pl.DataFrame],
) -> None:
    _, counts, out = clustered
    jane = out.filter(pl.col("date_of_birth") == JANE["date_of_birth"])
    assert jane.height == 4
    assert sorted(zip(jane["source"], jane["month"], strict=True)) == [
        ("asc_cld", "2025-02"), ("ecds", "2025-01"), ("ecds", "2025-02"), ("ecds", "2025-03")
    ]  # fmt: skip
    assert jane.get_column("pseudo_id").n_unique() == 1
    assert jane.get_column("pseudo_id")[0].startswith("U1-")
    assert set(jane.get_column("link_method")) == {"unmatched"}
    # 65 distinct filler people stay 65 people: nobody is merged with anyone else.
    filler = out.filter(pl.col("nhs_number").is_null() & (pl.col("date_of_birth") != JANE["date_of_birth"]))
    assert filler.height == 65
    assert filler.get_column("pseudo_id").n_unique() == 65
    assert counts["cluster/people"] == 67  # Jane, the 65 fillers and Priya's untraced record
    assert counts["cluster/merges"] == 0 and counts["cluster/splits"] == 0


def test_an_untraced_record_clustered_with_a_known_persons_records_takes_their_nhs_number(
    clustered: tuple[Home, dict[str, int], pl.DataFrame],
) -> None:
    _, _, out = clustered
    priya = out.filter((pl.col("given_name") == "Priya") & (pl.col("month") == "2025-03"))
    assert priya.select("nhs_number", "link_method").row(0) == (KNOWN_NHS, "clustered")
    assert priya["pseudo_id"][0] is None
    assert 0.99 <= priya["link_confidence"][0] <= 1.0


def test_pseudo_ids_are_stable_across_a_second_load_and_a_new_record_joins_its_cluster(home: Home) -> None:
    cluster_untraced(home)
    first = _pseudonymised(home)
    before = _ids_of(first, "Jane", "Sm")
    membership = read_membership(home)
    # Next month: Jane again (a new keying of her postcode), and ten new people.
    _write(home, "ecds", "2025-04", [{**JANE, "given_name": "Jane ", "postcode": "LS62QT"}, *_filler(10, 70)])
    counts = cluster_untraced(home)
    second = _pseudonymised(home)
    assert _ids_of(second, "Jane", "Sm") == before
    assert len(before) == 1
    again = read_membership(home)
    assert membership is not None and again is not None
    kept = again.join(membership, on="record_key", suffix="_before")
    assert kept.height == membership.height
    assert (kept["cluster_id"] == kept["cluster_id_before"]).all()
    assert counts["cluster/merges"] == 0 and counts["cluster/splits"] == 0


def test_a_merge_is_recorded_and_reaches_the_review_queue(home: Home) -> None:
    # Run 1: Jane, and "Janet Barnes" (same birth date) at another postcode: too different to join her.
    other = {**JANE, "given_name": "Janet", "family_name": "Barnes", "postcode": "BD7 1AA"}
    _write(home, "ecds", "2025-04", [other])
    cluster_untraced(home)
    first = _pseudonymised(home)
    jane_id, other_id = (next(iter(_ids_of(first, g, f))) for g, f in (("Jane", "Sm"), ("Janet", "Barnes")))
    assert jane_id != other_id
    before = read_membership(home)
    assert before is not None
    cluster_of = dict(before.select("record_key", "cluster_id").iter_rows())
    jane_cluster = cluster_of["1961-04-12|F|LS6 2QT|JANE|SMITH"]
    other_cluster = cluster_of["1961-04-12|F|BD7 1AA|JANET|BARNES"]
    # Run 2: the council records both under one person id: the two clusters become one person.
    _write(
        home, "asc_cld", "2025-05", [{**JANE, "la_person_id": "LA-90"}, {**other, "la_person_id": "LA-90"}]
    )
    counts = cluster_untraced(home)
    assert counts["cluster/merges"] == 1
    out = _pseudonymised(home)
    # Both were issued in the same generation: the smaller cluster ID survives.
    survivor = jane_id if jane_cluster < other_cluster else other_id
    assert _ids_of(out, "Jane", "Sm") == _ids_of(out, "Janet", "Barnes") == {survivor}
    queue = pl.read_csv(home.cluster_review, infer_schema=False)
    assert queue.select("change", "cluster_records", "other_records", "decision").rows() == [
        ("merge", "3", "1" if survivor == jane_id else "2", None)
    ]
    assert "BARNES" in (queue["cluster_examples"][0] + queue["other_examples"][0])
    assert "SMITH" in (queue["cluster_examples"][0] + queue["other_examples"][0])
    assert stat.S_IMODE(home.cluster_review.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.clusters.stat().st_mode) == 0o600
    # A reviewer's decision survives the next run's rewrite of the queue.
    queue.with_columns(decision=pl.lit("confirm")).write_csv(home.cluster_review)
    membership = read_membership(home)
    assert membership is not None
    assert (
        review.write_cluster_queue(pl.DataFrame(schema=CHANGES_SCHEMA), membership, home.cluster_review) == 0
    )
    assert pl.read_csv(home.cluster_review, infer_schema=False)["decision"].to_list() == ["confirm"]


def _membership(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=MEMBERSHIP_SCHEMA, orient="row")


def _components(groups: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(k, min(g)) for g in groups for k in g], schema=["record_key", "component"], orient="row"
    )


def test_when_clusters_merge_the_oldest_id_survives() -> None:
    previous = _membership([("a", "C-new", 2), ("b", "C-old", 1), ("c", "C-old", 1)])
    ids = assign_ids(_components([["a", "b", "c"]]), previous)
    assert ids.membership.rows() == [("a", "C-old", 1), ("b", "C-old", 1), ("c", "C-old", 1)]
    assert ids.changes.select("change", "cluster_id", "other_cluster_id", "cluster_records",
                              "other_records", "generation").rows() == [
        ("merge", "C-old", "C-new", 3, 1, 3)
    ]  # fmt: skip


def test_when_a_cluster_splits_the_larger_part_keeps_the_id_and_the_split_is_recorded() -> None:
    previous = _membership([("a", "C1", 1), ("b", "C1", 1), ("c", "C1", 1), ("d", "C2", 1)])
    ids = assign_ids(_components([["a"], ["b", "c"], ["d"]]), previous)
    got = dict(ids.membership.select("record_key", "cluster_id").iter_rows())
    assert got["b"] == got["c"] == "C1" and got["d"] == "C2"
    assert got["a"] == new_cluster_id(["a"]) and got["a"].startswith("C") and len(got["a"]) == 33
    assert ids.changes.select("change", "cluster_id", "other_cluster_id", "cluster_records",
                              "other_records").rows() == [
        ("split", "C1", got["a"], 2, 1)
    ]  # fmt: skip


def test_a_split_off_part_never_takes_an_id_issued_before() -> None:
    # C1 was issued for {a, b}; it grew, and now {a, b} splits off from the larger rest.
    first = new_cluster_id(["a", "b"])
    previous = _membership([(k, first, 1) for k in ("a", "b", "c", "d", "e")])
    ids = assign_ids(_components([["a", "b"], ["c", "d", "e"]]), previous)
    got = dict(ids.membership.select("record_key", "cluster_id").iter_rows())
    assert got["c"] == first
    assert got["a"] == got["b"] == new_cluster_id(["a", "b"], salt="2") != first


def test_same_records_and_seed_give_the_same_ids(
    clustered: tuple[Home, dict[str, int], pl.DataFrame],
) -> None:
    home = clustered[0]
    records = pl.concat([pl.read_parquet(p) for p in sorted(home.identifiable.glob("staged/ecds/*.parquet"))])
    first = cluster_records(records.drop("nhs_number"), seed=7)
    shuffled = records.sample(fraction=1.0, shuffle=True, seed=3).drop("nhs_number")
    second = cluster_records(shuffled, seed=7)
    assert first.membership.equals(second.membership)
    # 60 fillers, Priya's untraced record, and Jane under two keys (the lower-case postcode normalises).
    assert first.membership.height == 63
    assert first.clusters == 62


def test_a_residue_of_a_few_unrelated_records_clusters_without_error() -> None:
    """Four unrelated records (a tiny ICS's residue): the deterministic rules find no pair, so the
    estimated match prior is 0, whose infinite weight once failed the stage (math domain error).
    The prior is kept inside (0, 1) and each record is its own person."""
    records = pl.DataFrame(_filler(4, 100), schema={**TRACE_SCHEMA, "nhs_number": pl.String}).drop(
        "nhs_number"
    )
    with global_random_untouched():
        result = cluster_records(records)
    assert result.membership.height == 4
    assert result.membership["cluster_id"].n_unique() == 4


# A reviewer's decisions on merges and splits, acted on by the next loads (linkage.cluster_decisions).
JANET = {**JANE, "given_name": "Janet", "family_name": "Barnes", "postcode": "BD7 1AA"}


def _decide(home: Home, decision: str) -> None:
    """The reviewer fills every open row of the cluster review file, as the file documents."""
    queue = pl.read_csv(home.cluster_review, infer_schema=False)
    queue.with_columns(
        decision=pl.lit(decision), reviewer=pl.lit("r.jones"), decided_on=pl.lit("2025-06-02")
    ).write_csv(home.cluster_review)


def _jane_and_janet(home: Home) -> tuple[str, str]:
    out = _pseudonymised(home)
    jane, janet = _ids_of(out, "Jane", "Sm"), _ids_of(out, "Janet", "Barnes")
    assert len(jane) == len(janet) == 1
    return next(iter(jane)), next(iter(janet))


def _audit(home: Home) -> list[tuple[str, str, str, str]]:
    audit = pl.read_csv(home.cluster_decisions_applied, infer_schema=False)
    assert stat.S_IMODE(home.cluster_decisions_applied.stat().st_mode) == 0o600
    return audit.select("change", "decision", "reviewer", "outcome").rows()


def test_a_rejected_merge_keeps_two_people_with_their_ids_on_the_next_load(home: Home) -> None:
    _write(home, "ecds", "2025-04", [JANET])
    cluster_untraced(home)
    jane_id, janet_id = _jane_and_janet(home)
    # The council records both under one person id: the model merges them.
    _write(
        home, "asc_cld", "2025-05", [{**JANE, "la_person_id": "LA-90"}, {**JANET, "la_person_id": "LA-90"}]
    )
    assert cluster_untraced(home)["cluster/merges"] == 1
    merged = _jane_and_janet(home)
    assert merged[0] == merged[1]
    _decide(home, "reject")
    counts = cluster_untraced(home)
    # Two people again, each with the pseudo-ID they had before the merge; nothing new to review.
    assert _jane_and_janet(home) == (jane_id, janet_id)
    assert (counts["cluster/merges"], counts["cluster/splits"], counts["cluster/review_open"]) == (0, 0, 0)
    assert counts["cluster/decisions_applied"] == 1
    assert _audit(home) == [("merge", "reject", "r.jones", "apart")]
    assert stat.S_IMODE(home.cluster_change_sides.stat().st_mode) == 0o600
    assert pl.read_csv(home.cluster_review, infer_schema=False)["decision"].to_list() == ["reject"]


def test_a_confirmed_split_keeps_them_apart_when_the_evidence_joins_them_again(home: Home) -> None:
    _write(
        home, "asc_cld", "2025-05", [{**JANE, "la_person_id": "LA-90"}, {**JANET, "la_person_id": "LA-90"}]
    )
    cluster_untraced(home)
    together = _jane_and_janet(home)
    assert together[0] == together[1]
    # The council corrects Janet's person id: the cluster splits.
    _write(
        home, "asc_cld", "2025-05", [{**JANE, "la_person_id": "LA-90"}, {**JANET, "la_person_id": "LA-91"}]
    )
    assert cluster_untraced(home)["cluster/splits"] == 1
    jane_id, janet_id = _jane_and_janet(home)
    assert jane_id != janet_id and together[0] in (jane_id, janet_id)
    _decide(home, "confirm")
    # Next month the council's old error comes back: without the decision they would merge again.
    _write(
        home, "asc_cld", "2025-06", [{**JANE, "la_person_id": "LA-92"}, {**JANET, "la_person_id": "LA-92"}]
    )
    counts = cluster_untraced(home)
    assert _jane_and_janet(home) == (jane_id, janet_id)
    assert (counts["cluster/merges"], counts["cluster/decisions_applied"]) == (0, 1)
    assert _audit(home) == [("split", "confirm", "r.jones", "apart")]


def test_a_rejected_split_joins_the_parts_again_under_the_old_id() -> None:
    from linkage.cluster_decisions import ClusterDecisions, applied, change_sides, restore, together_edges

    # Load 1: one person {a1, a2, s1}; load 2: s1 split off (C_S). The reviewer rejects the split.
    first = _membership([("a1", "C_A", 1), ("a2", "C_A", 1), ("s1", "C_A", 1), ("x", "C_X", 1)])
    split = assign_ids(_components([["a1", "a2"], ["s1"], ["x"]]), first)
    assert split.changes["change"].to_list() == ["split"]
    sides = change_sides(split.changes, split.membership, first)
    assert sides.select("side", "record_key", "cluster_id").rows() == [
        ("cluster", "a1", "C_A"), ("cluster", "a2", "C_A"), ("other", "s1", split.membership["cluster_id"][2])
    ]  # fmt: skip
    decided = pl.DataFrame(
        {"change_id": split.changes["change_id"], "change": ["split"], "decision": ["reject"],
         "reviewer": ["r.jones"], "decided_on": ["2025-06-02"]}
    )  # fmt: skip
    decisions = ClusterDecisions(decided, sides)
    # Load 3: the model still splits s1 off, but the decision joins it back under C_A, with no change.
    edges = together_edges(decisions, pl.Series(["a1", "a2", "s1", "x"]))
    assert edges.select("unique_id_l", "unique_id_r").rows() == [("a1", "a2"), ("a1", "s1")]
    again = assign_ids(_components([["a1", "a2", "s1"], ["x"]]), restore(split.membership, decisions))
    assert again.membership["cluster_id"].to_list() == ["C_A", "C_A", "C_A", "C_X"]
    assert again.changes.height == 0
    assert applied(decisions, again.membership, 3).select(
        "outcome", "cluster_records", "other_records"
    ).rows() == [("together", 2, 1)]


def test_a_decision_the_file_does_not_document_is_refused_naming_the_file(home: Home) -> None:
    from core.errors import Refused
    from linkage.cluster_ids import change_id

    row = {"change_id": change_id("split", "C1", "C2"), "change": "split", "cluster_id": "C1",
           "other_cluster_id": "C2", "decision": " Maybe "}  # fmt: skip
    home.cluster_review.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame([row, {**row, "decision": "confirm"}]).write_csv(home.cluster_review)
    with pytest.raises(Refused) as raised:
        cluster_untraced(home)
    assert (
        str(raised.value)
        == f"{home.cluster_review}: 1 row(s) have a decision other than 'confirm' or 'reject'"
    )
    pl.DataFrame([{**row, "decision": "reject", "other_cluster_id": "C3"}]).write_csv(home.cluster_review)
    with pytest.raises(Refused, match=r"cluster_changes.csv: 1 row\(s\) were edited in their key columns$"):
        cluster_untraced(home)
