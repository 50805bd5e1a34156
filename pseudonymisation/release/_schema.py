"""What the governance files (register, users, organisations) share: strict field types and a YAML
loader that reports problems as ``file:line: reason``.

A typo in a governance file must never widen a release, so every model forbids unknown fields and
checks each value's shape. The files hold no patient data, so messages may quote their values.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictStr,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from core.errors import Refused

__all__ = [
    "CohortId",
    "IsoDate",
    "OdsCode",
    "OdsPractice",
    "PcnCode",
    "RbacRole",
    "RegisterError",
    "Slug",
    "Strict",
    "Text",
    "distinct",
    "load_yaml_model",
    "pattern",
    "unique_keys",
]

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COHORT_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")  # cohort/definitions ids are snake_case
ODS_PRACTICE = re.compile(r"^[A-Z][0-9]{5}$")
PCN = re.compile(r"^U[0-9]{5}$")
ODS_ORG = re.compile(r"^(?:[A-Z][0-9]{5}|U[0-9]{5})$")
RBAC_ROLE = re.compile(r"^R[0-9]{4}$")  # national RBAC role codes, e.g. R8000
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
M = TypeVar("M", bound=BaseModel)


class RegisterError(Refused):
    """A governance file could not be read or is malformed. ``str()`` is ``file:line: reason``."""

    def __init__(
        self, path: Path | str, line: int | None, reason: str, problems: Sequence[tuple[int, str]] = ()
    ) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        extra = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{where}: {reason}{extra}")
        self.path = Path(path)
        self.line = line
        self.reason = reason
        self.problems: tuple[tuple[int, str], ...] = tuple(problems) or (
            ((line, reason),) if line is not None else ()
        )


def pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"'{value}' is not {what}")
        return value

    return AfterValidator(check)


def distinct(what: str) -> AfterValidator:
    """At least one item, none repeated. Runs after the items validate, so it adds no noise to theirs."""

    def check(values: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
        if not values:
            raise ValueError(f"list at least one {what}")
        seen: set[Hashable] = set()
        for i, value in enumerate(values):
            if value in seen:
                # "at" is read by load_register to point at the repeated item, not at the whole list.
                raise PydanticCustomError(
                    "duplicate",
                    "{what} '{value}' is listed more than once",
                    {"what": what, "value": value, "at": (i,)},
                )
            seen.add(value)
        return values

    return AfterValidator(check)


def unique_keys(items: Sequence[Any], key: str, what: str) -> None:
    """Refuse a repeated ``key`` among ``items``, pointing at the repeat (read by the loader's ``at``)."""
    seen: set[object] = set()
    for i, item in enumerate(items):
        value = getattr(item, key)
        if value in seen:
            raise PydanticCustomError(
                "duplicate",
                "{what} '{value}' is used more than once",
                {"what": what, "value": value, "at": (i, key)},
            )
        seen.add(value)


def _iso_date(value: object) -> date:
    # YAML timestamps are loaded as text (see _Loader) so that a bad date is reported with its line.
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a real date ({exc})") from None
    raise ValueError("must be a date written YYYY-MM-DD")


Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[StrictStr, pattern(SLUG, "a lower-case slug like 'diabetes-recall'")]
OdsPractice = Annotated[StrictStr, pattern(ODS_PRACTICE, "a GP practice ODS code (a letter and 5 digits)")]
PcnCode = Annotated[StrictStr, pattern(PCN, "a PCN code (U and 5 digits)")]
CohortId = Annotated[StrictStr, pattern(COHORT_ID, "a cohort id like 'diabetes_no_hba1c_12m'")]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
OdsCode = Annotated[
    StrictStr, pattern(ODS_ORG, "a practice ODS code (a letter and 5 digits) or a PCN code (U and 5 digits)")
]
RbacRole = Annotated[StrictStr, pattern(RBAC_ROLE, "a national RBAC role code like 'R8000'")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- loading with line numbers -------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text (pydantic parses them, with a line) and records node lines."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_Loc = tuple[str | int, ...]


def _record_lines(node: yaml.Node, loc: _Loc, lines: dict[_Loc, int], path: Path) -> None:
    """Map each mapping key / sequence item path to its 1-based line; refuse duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if loc + (key,) in lines:
                raise RegisterError(path, line, f"{_where(loc)}: duplicate key '{key}'")
            lines[loc + (key,)] = line
            _record_lines(value_node, loc + (key,), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[loc + (i,)] = item.start_mark.line + 1
            _record_lines(item, loc + (i,), lines, path)


def _parse(text: str, path: Path) -> tuple[Any, dict[_Loc, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RegisterError(path, 1, "the file is empty")
        lines: dict[_Loc, int] = {(): node.start_mark.line + 1}
        _record_lines(node, (), lines, path)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "unreadable"
        raise RegisterError(path, line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise RegisterError(path, None, f"YAML error: {exc}") from None
    finally:
        loader.dispose()


def _where(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "register"


def _line_for(loc: _Loc, lines: dict[_Loc, int]) -> int:
    while loc not in lines:  # e.g. a missing field: point at the mapping that should hold it
        loc = loc[:-1]
    return lines[loc]


def _describe(error: Any) -> tuple[_Loc, str]:
    loc: _Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return loc, f"{_where(loc[:-1])}: unknown field '{loc[-1]}'"
    if kind == "missing":
        return loc, f"{_where(loc[:-1])}: missing required field '{loc[-1]}'"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        message = f"'{error['input']}' is not allowed; expected {error['ctx']['expected']}"
    at = (error.get("ctx") or {}).get("at")
    if at:
        loc = loc + tuple(at)
    return loc, f"{_where(loc)}: {message}"


def load_yaml_model(path: Path | str, model: type[M], *, text: str | None = None) -> M:
    """Read and validate one YAML document as ``model``; ``RegisterError`` (file:line: reason) if malformed.

    ``text``: the file's contents when the caller has read (and hash-checked) them already, so what is
    validated is exactly what was verified.
    """
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RegisterError(path, None, f"cannot read the file ({type(exc).__name__})") from None
    data, lines = _parse(text, path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            ((_line_for(loc, lines), reason) for loc, reason in map(_describe, exc.errors())),
            key=lambda p: p[0],
        )
        line, reason = problems[0]
        raise RegisterError(path, line, reason, problems) from None
