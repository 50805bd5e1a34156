"""Cohort definition schema: the YAML a cohort file holds, validated by pydantic (extra fields forbidden).

A definition names its approved purpose, a base population, and criteria that must all hold
(`include`) or must not hold (`exclude`). Each criterion is one of:

* `feature`: a column of the features table (`cohort.features.FEATURE_COLUMNS`) compared with a value;
* `codes`: a codelist's codes recorded (or not) in a setting's activity, optionally within a window;
* `events`: a count of a setting's activity (optionally a named subset, e.g. emergency only).

Names that depend on the deployment (features, codelists, purposes) are checked against allow-lists
passed in as validation context; every problem is reported with the file and field it concerns.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cohort.features import DEFAULT_ALLOWED_FEATURES, FEATURE_COLUMNS, FEATURE_VALUES
from core.errors import Refused

Setting = Literal["gp_event", "gp_medication", "apc", "ae", "op", "community", "mh", "asc"]
SETTINGS: tuple[str, ...] = get_args(Setting)
Op = Literal[">=", "<=", "=", ">", "<", "in"]
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr


class CohortDefinitionError(Refused, ValueError):
    """A cohort definition is invalid; the message names the file (or cohort id) and every problem."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


def unknown_message(kind: str, name: str, allowed: Collection[str]) -> str:
    """ "unknown <kind> <name>", with the closest allowed name as a hint."""
    close = difflib.get_close_matches(name, sorted(allowed), n=1)
    return f"unknown {kind} {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _check_known(kind: str, name: str, info: ValidationInfo, key: str) -> str:
    allowed = (info.context or {}).get(key)
    if allowed is not None and name not in allowed:
        raise ValueError(unknown_message(kind, name, allowed))
    return name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Population(_Model):
    """Base population, read from the features table. A flag of None means no restriction."""

    min_age: int | None = Field(default=None, ge=0)
    max_age: int | None = Field(default=None, ge=0)
    registered: bool | None = True
    alive: bool | None = True

    @model_validator(mode="after")
    def _ages_ordered(self) -> Population:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is greater than max_age")
        return self


class FeatureCriterion(_Model):
    """`feature <op> value`; `in` takes a list. Values are checked against the feature's type."""

    feature: str
    op: Op
    value: Scalar | list[Scalar]
    label: str | None = None

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, name: str, info: ValidationInfo) -> str:
        return _check_known("feature", name, info, "allowed_features")

    @model_validator(mode="after")
    def _value_fits(self) -> FeatureCriterion:
        is_list = isinstance(self.value, list)
        if (self.op == "in") != is_list:
            raise ValueError("op 'in' takes a list of values; other ops take a single value")
        values = self.value if isinstance(self.value, list) else [self.value]
        if not values:
            raise ValueError("op 'in' needs at least one value")
        dtype = FEATURE_COLUMNS.get(self.feature)
        if dtype is None:
            return self
        numeric = dtype in ("INTEGER", "BIGINT", "DOUBLE")
        fits = {
            True: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            False: lambda v: isinstance(v, bool) if dtype == "BOOLEAN" else isinstance(v, str),
        }[numeric]
        if not all(fits(v) for v in values):
            raise ValueError(f"{self.feature} is {dtype}: value {self.value!r} does not fit")
        if not numeric and self.op not in ("=", "in"):
            raise ValueError(f"op {self.op!r} needs a numeric feature; {self.feature} is {dtype}")
        vocabulary = FEATURE_VALUES.get(self.feature)
        if vocabulary is not None and (bad := [v for v in values if v not in vocabulary]):
            raise ValueError(f"{self.feature} has no value {bad[0]!r} (values: {', '.join(vocabulary)})")
        return self


class CodesCriterion(_Model):
    """At least `min_count` records (or, with present: false, fewer) of a codelist in a setting."""

    codes: str
    setting: Setting
    within_months: int | None = Field(default=None, ge=1)
    present: bool = True
    min_count: int = Field(default=1, ge=1)
    label: str | None = None

    @field_validator("codes")
    @classmethod
    def _known_codelist(cls, name: str, info: ValidationInfo) -> str:
        return _check_known("codelist", name, info, "allowed_codelists")


class EventsCriterion(_Model):
    """At least `min_count` events (or, with present: false, fewer) in a setting, optionally filtered."""

    events: Setting
    filter: str | None = None
    within_months: int | None = Field(default=None, ge=1)
    present: bool = True
    min_count: int = Field(default=1, ge=1)
    label: str | None = None


_KINDS = ("feature", "codes", "events")


def _criterion_kind(value: Any) -> str | None:
    if isinstance(value, FeatureCriterion | CodesCriterion | EventsCriterion):
        return _KINDS[(FeatureCriterion, CodesCriterion, EventsCriterion).index(type(value))]
    if isinstance(value, dict):
        kinds = [k for k in _KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return None


Criterion = Annotated[
    Annotated[FeatureCriterion, Tag("feature")]
    | Annotated[CodesCriterion, Tag("codes")]
    | Annotated[EventsCriterion, Tag("events")],
    Discriminator(
        _criterion_kind,
        custom_error_type="criterion_kind",
        custom_error_message="a criterion needs exactly one of 'feature', 'codes' or 'events'",
    ),
]


class CohortDefinition(_Model):
    """One cohort: who (population, include, exclude) and why (an approved purpose id)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    purpose: str
    population: Population = Population()
    include: list[Criterion] = Field(min_length=1)
    exclude: list[Criterion] = Field(default_factory=list)

    @field_validator("purpose")
    @classmethod
    def _known_purpose(cls, name: str, info: ValidationInfo) -> str:
        return _check_known("purpose", name, info, "allowed_purposes")


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i >= 2 and loc[i - 2] in ("include", "exclude") and isinstance(loc[i - 1], int):
            continue  # the union tag pydantic adds, e.g. include[0].feature.feature
        else:
            out += f".{part}" if out else part
    return out


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "required field missing"
    elif kind == "value_error":
        message = str(error["ctx"]["error"])
    else:
        message = error["msg"]
    where = _location(tuple(error["loc"]))
    return f"{where}: {message}" if where else message


def parse_definition(
    data: Any,
    *,
    source: str,
    allowed_features: Collection[str] = DEFAULT_ALLOWED_FEATURES,
    allowed_codelists: Collection[str] | None = None,
    allowed_purposes: Collection[str] | None = None,
) -> CohortDefinition:
    """Validate one parsed YAML document; None for an allow-list skips that check (compile checks again)."""
    context = {
        "allowed_features": allowed_features,
        "allowed_codelists": allowed_codelists,
        "allowed_purposes": allowed_purposes,
    }
    if not isinstance(data, dict):
        raise CohortDefinitionError(source, ["a cohort definition must be a mapping"])
    try:
        return CohortDefinition.model_validate(data, context=context)
    except ValidationError as exc:
        raise CohortDefinitionError(source, [_describe(e) for e in exc.errors()]) from None


def load_cohorts(
    directory: Path,
    *,
    allowed_features: Collection[str] = DEFAULT_ALLOWED_FEATURES,
    allowed_codelists: Collection[str] | None = None,
    allowed_purposes: Collection[str] | None = None,
) -> list[CohortDefinition]:
    """Every `*.yaml` in `directory`, validated, in file-name order; each `id` must equal its file stem."""
    cohorts = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise CohortDefinitionError(
                path.name, [f"not valid YAML (line {line + 1})" if line is not None else "not valid YAML"]
            ) from None
        cohort = parse_definition(
            data,
            source=path.name,
            allowed_features=allowed_features,
            allowed_codelists=allowed_codelists,
            allowed_purposes=allowed_purposes,
        )
        if cohort.id != path.stem:
            raise CohortDefinitionError(path.name, [f"id {cohort.id!r} does not match the file name"])
        cohorts.append(cohort)
    return cohorts
