"""The synthetic generator's own tests, on a tiny ICS (a few hundred people, three months): determinism,
file shapes against the spec, truth coverage, NHS numbers, the summary. Its statistical realism needs a
larger population and lives in tests/integration/test_synthetic_distributions.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nhs_number
import polars as pl
import pytest

from connectors.spec import EXTRACTS, REGISTERS, extract_filename
from synthetic import GeneratorConfig, generate
from synthetic.config import Calendar, GenerationSummary
from synthetic.docs import DOC_PATH, render_extracts_markdown
from synthetic.nhs_numbers import CAPACITY, _valid_999_numbers

PERSONS = 300
MONTHS = 3


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("ics")
    return out, generate(GeneratorConfig(persons=PERSONS, seed=7, months=MONTHS), out)


@pytest.fixture(scope="module")
def ics(generated: tuple[Path, GenerationSummary]) -> Path:
    return generated[0]


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_and_other_seed_differs(ics: Path, tmp_path: Path) -> None:
    # The module's ICS is the first of the two same-seed generations (it is only read, never changed).
    generate(GeneratorConfig(persons=PERSONS, seed=7, months=MONTHS), tmp_path / "b")
    generate(GeneratorConfig(persons=PERSONS, seed=8, months=MONTHS), tmp_path / "c")
    a, b, c = _digest(ics), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a == b
    assert a.keys() == c.keys()
    assert (
        a["landing/gp_patients/gp_patients_2026-09.csv"] != c["landing/gp_patients/gp_patients_2026-09.csv"]
    )


def test_every_source_has_one_file_per_month_with_the_spec_header(ics: Path) -> None:
    cal = Calendar("2026-10", MONTHS)
    for source, spec in EXTRACTS.items():
        for month in cal.labels:
            path = ics / "landing" / extract_filename(source, month)
            with path.open() as f:
                assert f.readline().rstrip("\n").split(",") == spec.names, path
    for reg in REGISTERS:
        assert (ics / "landing" / reg.path).exists()
        if reg.columns:
            header = (ics / "landing" / reg.path).read_text().split("\n", 1)[0].split(",")
            assert header == [n for n, _ in reg.columns]


def test_truth_records_cover_every_data_line_exactly_once(ics: Path) -> None:
    records = pl.read_parquet(ics / "truth/records.parquet")
    per_file = records.group_by("file").agg(
        n=pl.len(), lo=pl.col("line").min(), hi=pl.col("line").max(), distinct=pl.col("line").n_unique()
    )
    seen = {}
    for path in sorted((ics / "landing").rglob("*.csv")):
        rel = str(path.relative_to(ics / "landing"))
        if rel.split("/")[0] in ("registers", "reference"):
            continue
        seen[rel] = path.read_bytes().count(b"\n") - 1
    got = {r["file"]: r for r in per_file.iter_rows(named=True)}
    for rel, lines in seen.items():
        if lines == 0:
            assert rel not in got
            continue
        r = got[rel]
        assert (r["n"], r["distinct"], r["lo"], r["hi"]) == (lines, lines, 2, lines + 1), rel
    assert set(got) <= set(seen)


def test_nhs_numbers_unique_valid_and_in_the_test_range(ics: Path) -> None:
    persons = pl.read_parquet(ics / "truth/persons.parquet")
    nhs = persons["nhs_number"]
    assert nhs.n_unique() == persons.height
    assert nhs.str.starts_with("999").all()
    assert all(nhs_number.is_valid(x) for x in nhs.to_list())
    assert len(_valid_999_numbers()) == CAPACITY


def test_clean_rows_carry_the_true_nhs_number(ics: Path) -> None:
    records = pl.read_parquet(ics / "truth/records.parquet").filter(pl.col("source") == "apc")
    for file in records["file"].unique().sort().to_list()[:6]:
        rows = pl.read_csv(
            ics / "landing" / file, infer_schema=False, quote_char=None, truncate_ragged_lines=True
        )
        rec = records.filter(pl.col("file") == file).sort("line")
        got = rows["NHS_NUMBER"].to_list()
        for value, r in zip(got, rec.iter_rows(named=True), strict=True):
            if not (
                r["nhs_missing"] or r["nhs_bad_check_digit"] or r["nhs_formatted"] or r["malformed_line"]
            ):
                assert value == r["nhs_number"]
                assert nhs_number.is_valid(value)
            if r["nhs_bad_check_digit"]:
                assert not nhs_number.is_valid(value)
            if r["nhs_missing"]:
                assert value is None


def test_docs_extracts_md_is_up_to_date() -> None:
    assert DOC_PATH.read_text() == render_extracts_markdown(), (
        "run: python -c 'from synthetic.docs import write; write()'"
    )


def test_summary_counts_match_files(generated: tuple[Path, GenerationSummary]) -> None:
    out, s = generated
    assert s.persons == PERSONS
    assert s.files_written == 9 * MONTHS + 6
    records = pl.read_parquet(out / "truth/records.parquet").with_columns(pl.col("source").cast(pl.String))
    assert s.rows == dict(records.group_by("source").len().iter_rows())


def test_shipped_codelists_are_well_formed() -> None:
    import csv
    import re

    from connectors.spec import PATTERNS
    from synthetic.codes import CODELIST_DIR

    pattern = {
        "snomed": PATTERNS["snomed"],
        "icd10": PATTERNS["icd10"],
        "opcs4": PATTERNS["opcs4"],
        "dmd": PATTERNS["dmd"],
    }
    files = sorted(CODELIST_DIR.glob("*.csv"))
    assert len(files) > 40
    for path in files:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows and {"code", "term"} <= set(rows[0]), path
        system = {"efi_deficits": "snomed", "hba1c": "snomed"}.get(path.stem, path.stem.rsplit("_", 1)[-1])
        assert all(re.match(pattern[system], r["code"]) for r in rows), path
    with (CODELIST_DIR / "efi_deficits.csv").open(newline="") as f:
        assert len({r["deficit"] for r in csv.DictReader(f)}) == 36
