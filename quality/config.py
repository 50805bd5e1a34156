"""The data quality configuration (`quality/config.yaml`), loaded and validated by pydantic.

One file holds every expectation with its category, threshold and severity, so a reviewer can read
what is checked and how strictly in one place. Loading expands each entry's `targets` into one
`Expectation` per target and checks every identifier against the warehouse schema (tables, staged
columns), so a typo fails at load time rather than as SQL at 3 a.m.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.spec import EXTRACTS, PATTERNS
from linkage.warehouse.schema import ACTIVITY_KEYS, STAGED_COLUMNS, TABLES

Category = Literal["conformance", "completeness", "plausibility"]
Severity = Literal["block", "warn"]
Scope = Literal["source", "warehouse"]
Input = Literal["records", "nhs_status", "reconciliation"]
Kind = Literal[
    "not_null",
    "match_pattern",
    "in_set",
    "not_in_set",
    "is_true",
    "not_in_future",
    "pair_order",
    "after_birth",
    "before_death",
    "unique",
    "in_person",
    "group_rate",
    "volume",
    "ops_rate",
]

# Columns of the derived inputs (see quality.inputs): counts-only views, not staged columns.
NHS_STATUS_COLUMNS = ("nhs_number_present", "nhs_number_valid")
# Records the connectors set aside, per file, from the exact books. Never opted_out: an ops_rate check
# publishes its counts exactly in dq_results, and opt-out counts are published only under disclosure
# control (opt_out_summary); the rates are over the rows not opted out (quality.inputs), for the same
# reason.
RECONCILIATION_COLUMNS = (
    "quarantined",
    "excluded",
    "excluded_duplicate",
    "excluded_practice_not_sharing",
    "quarantined_malformed_line",
    "quarantined_missing_required",
    "quarantined_invalid_date",
    "quarantined_invalid_code",
    "quarantined_invalid_number",
    "quarantined_future_date",
    "quarantined_end_before_start",
)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_KINDS_WITHOUT_COLUMNS = {"unique", "volume"}
_PAIR_KINDS = {"pair_order"}


class _Entry(BaseModel):
    """One entry of config.yaml (before expansion over its targets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    description: str = ""
    scope: Scope
    input: Input = "records"
    targets: list[str] = Field(min_length=1)
    kind: Kind
    columns: list[str] = Field(default_factory=list)
    category: Category
    threshold: float = Field(ge=0.0, le=1.0)
    severity: Severity
    pattern: str | None = None
    values: list[str] | None = None
    codelists: list[str] | None = None
    group_by: str | None = None
    min_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    min_group_rows: int = Field(default=1, ge=1)
    tolerance: float | None = Field(default=None, gt=0.0)

    @field_validator("id")
    @classmethod
    def _id_is_identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"expectation id {value!r} must be lower_snake_case")
        return value

    @model_validator(mode="after")
    def _parameters_fit_kind(self) -> _Entry:
        k = self.kind
        if k not in _KINDS_WITHOUT_COLUMNS and not self.columns:
            raise ValueError(f"{self.id}: kind {k} needs columns")
        if k in _PAIR_KINDS and len(self.columns) != 2:
            raise ValueError(f"{self.id}: kind {k} needs exactly two columns [later, earlier]")
        if k == "match_pattern" and self.pattern not in PATTERNS:
            raise ValueError(
                f"{self.id}: pattern must be one of connectors.spec.PATTERNS, got {self.pattern!r}"
            )
        if k == "in_set" and not (self.values or self.codelists):
            raise ValueError(f"{self.id}: in_set needs values or codelists")
        if k == "not_in_set" and not self.values:
            raise ValueError(f"{self.id}: not_in_set needs values")
        if k == "group_rate" and (self.group_by is None or self.min_rate is None):
            raise ValueError(f"{self.id}: group_rate needs group_by and min_rate")
        if k == "volume" and (self.tolerance is None or self.scope != "source"):
            raise ValueError(f"{self.id}: volume is a source check and needs tolerance")
        if (k == "ops_rate") != (self.input == "reconciliation"):
            raise ValueError(f"{self.id}: ops_rate goes with input reconciliation (and only it)")
        if self.scope == "warehouse" and self.input != "records":
            raise ValueError(f"{self.id}: warehouse expectations read tables (input records)")
        return self


class Expectation(BaseModel):
    """One expectation on one target: what `quality.engine` evaluates and reports a row for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    description: str = ""
    scope: Scope
    input: Input = "records"
    target: str
    kind: Kind
    columns: tuple[str, ...] = ()
    category: Category
    threshold: float
    severity: Severity
    pattern: str | None = None
    values: tuple[str, ...] | None = None
    codelists: tuple[str, ...] | None = None
    group_by: str | None = None
    min_rate: float | None = None
    min_group_rows: int = 1
    tolerance: float | None = None

    @property
    def asset(self) -> str:
        """`source/<source>` or `warehouse/<table>`: the dq_results `asset` value."""
        return f"{self.scope}/{self.target}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.asset, self.id)


class QualityConfig(BaseModel):
    """The whole configuration: expanded expectations plus engine settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gx_max_rows: int = Field(default=250_000, ge=0)
    expectations: tuple[Expectation, ...]

    def for_scope(self, scope: Scope, target: str | None = None) -> list[Expectation]:
        return [e for e in self.expectations if e.scope == scope and (target is None or e.target == target)]

    @property
    def source_targets(self) -> list[str]:
        return sorted({e.target for e in self.expectations if e.scope == "source"})


def _columns_of(scope: Scope, input_: Input, target: str) -> set[str] | None:
    """Columns an expectation may name; None for warehouse tables (checked against the file at run time)."""
    if scope == "warehouse":
        return None
    if input_ == "nhs_status":
        return set(NHS_STATUS_COLUMNS)
    if input_ == "reconciliation":
        return set(RECONCILIATION_COLUMNS)
    return set(STAGED_COLUMNS[target])


def _expand(entry: _Entry) -> list[Expectation]:
    out = []
    for target in entry.targets:
        if entry.scope == "source" and target not in EXTRACTS:
            raise ValueError(f"{entry.id}: unknown source {target!r}")
        if entry.scope == "warehouse" and target not in TABLES:
            raise ValueError(f"{entry.id}: unknown warehouse table {target!r}")
        columns = tuple(entry.columns)
        if entry.kind == "unique" and not columns:
            if target not in ACTIVITY_KEYS:
                raise ValueError(f"{entry.id}: {target} has no natural key; list the columns")
            columns = ACTIVITY_KEYS[target]
        allowed = _columns_of(entry.scope, entry.input, target)
        named = [*columns, *([entry.group_by] if entry.group_by else [])]
        unknown = [c for c in named if not _IDENT.match(c) or (allowed is not None and c not in allowed)]
        if unknown:
            raise ValueError(f"{entry.id}: {target} has no column(s) {unknown}")
        fields = entry.model_dump(exclude={"targets", "columns", "values", "codelists"})
        out.append(
            Expectation(
                **fields,
                target=target,
                columns=columns,
                values=tuple(entry.values) if entry.values is not None else None,
                codelists=tuple(entry.codelists) if entry.codelists is not None else None,
            )
        )
    return out


def parse_config(raw: dict[str, object]) -> QualityConfig:
    """Validate a config mapping (as read from YAML): expand targets, check names, refuse duplicates."""
    entries = [_Entry.model_validate(e) for e in raw.get("expectations", []) or []]  # type: ignore[attr-defined]
    expectations = [x for e in entries for x in _expand(e)]
    seen: set[tuple[str, str]] = set()
    for x in expectations:
        if x.key in seen:
            raise ValueError(f"expectation {x.id} is configured twice for {x.asset}")
        seen.add(x.key)
    settings = {k: v for k, v in raw.items() if k != "expectations"}
    return QualityConfig(expectations=tuple(expectations), **settings)  # type: ignore[arg-type]


def load_config(path: Path | None = None) -> QualityConfig:
    """Load `path` (default: the shipped quality/config.yaml)."""
    text = (
        path.read_text("utf-8")
        if path is not None
        else resources.files("quality").joinpath("config.yaml").read_text("utf-8")
    )
    raw = yaml.safe_load(text) or {}
    if not isinstance(raw, dict):
        raise ValueError("quality config must be a mapping")
    return parse_config(raw)
