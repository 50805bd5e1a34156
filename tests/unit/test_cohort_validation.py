"""Cohort definition validation: each problem is reported with the file and the field, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cohort.definitions import (
    CohortDefinitionError,
    EventFilter,
    SettingTable,
    compile,
    load_cohorts,
    parse_definition,
)
from cohort.features import DEFAULT_ALLOWED_FEATURES

PURPOSE = "risk_stratification_case_finding"
BASE: dict[str, Any] = {
    "id": "x",
    "title": "t",
    "description": "d",
    "purpose": PURPOSE,
    "include": [{"feature": "age", "op": ">=", "value": 65}],
}
OK_FEATURE = {"feature": "age", "op": ">=", "value": 65}

# change to a valid definition  ->  exact message
CASES: list[tuple[dict[str, Any], str]] = [
    ({"include": [{**OK_FEATURE, "window": 6}]}, "include[0].window: unknown field"),
    ({"owner": "me"}, "owner: unknown field"),
    ({"include": [{"feature": "frailty_cat", "op": "=", "value": "mild"}]},
     "include[0].feature: unknown feature 'frailty_cat' (did you mean 'frailty_category'?)"),
    ({"include": [OK_FEATURE, {"codes": "hba1c_x", "setting": "gp_event"}]},
     "include[1].codes: unknown codelist 'hba1c_x' (did you mean 'hba1c'?)"),
    ({"exclude": [{"codes": "statins", "setting": "gp_medication"}]}, "exclude[0].codes: unknown codelist 'statins'"),
    ({"purpose": "marketing"}, "purpose: unknown purpose 'marketing'"),
    ({"include": [{"op": "="}]}, "include[0]: a criterion needs exactly one of 'feature', 'codes' or 'events'"),
    ({"include": [{"feature": "age", "codes": "hba1c"}]},
     "include[0]: a criterion needs exactly one of 'feature', 'codes' or 'events'"),
    ({"include": [{"feature": "risk_tier", "op": "in", "value": "high"}]},
     "include[0]: op 'in' takes a list of values; other ops take a single value"),
    ({"include": [{"feature": "risk_tier", "op": "=", "value": "very_high"}]},
     "include[0]: risk_tier has no value 'very_high' (values: very high, high, moderate, low)"),
    ({"include": [{"feature": "age", "op": ">=", "value": "65"}]}, "include[0]: age is INTEGER: value '65' does not fit"),
    ({"include": [{"feature": "risk_tier", "op": ">=", "value": "high"}]},
     "include[0]: op '>=' needs a numeric feature; risk_tier is VARCHAR"),
    ({"include": [{"feature": "age", "op": ">="}]}, "include[0].value: required field missing"),
    ({"include": [{"events": "ae", "within_months": 0}]},
     "include[0].within_months: Input should be greater than or equal to 1"),
    ({"population": {"min_age": 80, "max_age": 70}}, "population: min_age is greater than max_age"),
    ({"population": {"registered": "yes"}}, "population.registered: Input should be a valid boolean"),
    ({"purpose": None}, "purpose: Input should be a valid string"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message"), CASES)
def test_exact_messages(change: dict[str, Any], message: str) -> None:
    with pytest.raises(CohortDefinitionError) as caught:
        parse_definition(
            {**BASE, **change}, source="bad.yaml", allowed_codelists={"hba1c"}, allowed_purposes={PURPOSE}
        )
    assert str(caught.value) == f"bad.yaml: {message}"
    assert caught.value.source == "bad.yaml"


def test_every_problem_is_reported() -> None:
    data = {**BASE, "purpose": "marketing", "colour": "red"}
    with pytest.raises(CohortDefinitionError) as caught:
        parse_definition(data, source="bad.yaml", allowed_purposes={PURPOSE})
    assert caught.value.problems == ["purpose: unknown purpose 'marketing'", "colour: unknown field"]


def test_missing_field_and_not_a_mapping() -> None:
    data = {k: v for k, v in BASE.items() if k != "title"}
    with pytest.raises(CohortDefinitionError, match=r"^bad.yaml: title: required field missing$"):
        parse_definition(data, source="bad.yaml")
    with pytest.raises(CohortDefinitionError, match=r"^bad.yaml: a cohort definition must be a mapping$"):
        parse_definition(["id"], source="bad.yaml")


def test_checks_skipped_only_when_no_allow_list_is_given() -> None:
    data = {**BASE, "purpose": "anything", "include": [{"codes": "anything", "setting": "gp_event"}]}
    assert parse_definition(data, source="ok.yaml").purpose == "anything"
    with pytest.raises(CohortDefinitionError, match="unknown feature 'age'"):
        parse_definition(BASE, source="bad.yaml", allowed_features={"sex"})


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_load_cohorts_names_the_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.yaml",
        "id: a\ntitle: t\ndescription: d\npurpose: p\ninclude:\n  - {feature: age, op: '>=', value: 1}\n",
    )
    assert [c.id for c in load_cohorts(tmp_path, allowed_purposes={"p"})] == ["a"]
    _write(
        tmp_path,
        "b.yaml",
        "id: c\ntitle: t\ndescription: d\npurpose: p\ninclude:\n  - {feature: age, op: '>=', value: 1}\n",
    )
    with pytest.raises(CohortDefinitionError, match=r"^b.yaml: id 'c' does not match the file name$"):
        load_cohorts(tmp_path)
    _write(tmp_path, "b.yaml", "id: b\ninclude: [\n")
    with pytest.raises(CohortDefinitionError, match=r"^b.yaml: not valid YAML \(line 3\)$"):
        load_cohorts(tmp_path)
    _write(
        tmp_path,
        "b.yaml",
        "id: b\ntitle: t\ndescription: d\npurpose: q\ninclude:\n  - {feature: age, op: '>=', value: 1}\n",
    )
    with pytest.raises(CohortDefinitionError, match=r"^b.yaml: purpose: unknown purpose 'q'$"):
        load_cohorts(tmp_path, allowed_purposes={"p"})


SETTINGS = {
    "gp_event": SettingTable("gp_event", "event_date", code_columns=("snomed_code",)),
    "ae": SettingTable("ae_attendance", "arrival_date"),
    "apc": SettingTable(
        "apc_spell", "admission_date", filters={"emergency_only": EventFilter("is_emergency", (True,))}
    ),
}


def _compile(include: list[dict[str, Any]], **overrides: Any) -> tuple[str, list[Any]]:
    definition = parse_definition({**BASE, "include": include}, source="x.yaml")
    kwargs: dict[str, Any] = {
        "features_table": "features",
        "allowed_features": DEFAULT_ALLOWED_FEATURES,
        "allowed_codelists": {"hba1c"},
        "setting_tables": SETTINGS,
    }
    return compile(definition, **(kwargs | overrides))


# include  ->  exact compile error (named by cohort id)
COMPILE_CASES: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = [
    ([OK_FEATURE], {"allowed_features": {"sex"}},
     "x: population: unknown feature 'registered'; population: unknown feature 'alive'; "
     "include[0].feature: unknown feature 'age'"),
    ([{"codes": "statins", "setting": "gp_event"}], {}, "x: include[0].codes: unknown codelist 'statins'"),
    ([{"events": "mh"}], {}, "x: include[0]: no table configured for setting 'mh'"),
    ([{"codes": "hba1c", "setting": "ae"}], {}, "x: include[0]: setting 'ae' has no code columns"),
    ([{"events": "apc", "filter": "emergency"}], {},
     "x: include[0].filter: unknown filter for apc 'emergency' (did you mean 'emergency_only'?)"),
]  # fmt: skip


@pytest.mark.parametrize(("include", "overrides", "message"), COMPILE_CASES)
def test_compile_errors(include: list[dict[str, Any]], overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(CohortDefinitionError) as caught:
        _compile(include, **overrides)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ['features"; DROP TABLE person; --', "features table", "1features"])
def test_identifiers_must_be_plain(name: str) -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        _compile([OK_FEATURE], features_table=name)


def test_schema_qualified_table_and_current_date_default() -> None:
    sql, params = _compile(
        [OK_FEATURE, {"events": "ae", "within_months": 6}], features_table="cohorts.features"
    )
    assert 'FROM "cohorts"."features" AS f' in sql
    assert "current_date" in sql
    assert params == [True, True, 65, "age >= 65", 6, 1, "1+ ae events within 6 months"]
