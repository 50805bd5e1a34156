"""The governance register: which purposes may release which cohorts, to whom, and with which fields.

The register is a YAML file reviewed by the IG lead (format and example in docs/governance.md). It is
validated strictly (unknown fields, wrong types, inconsistent legal basis are errors) because a typo in a
register must never widen a release. A malformed register raises ``RegisterError`` naming the file, the
line and the reason, so the reviewer can fix it without reading a stack trace. The register holds no
patient data, so messages may quote its values.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import Refused

__all__ = [
    "EXAMPLE_REGISTER",
    "LEGAL_BASES",
    "RELEASE_FIELDS",
    "GovernanceRegister",
    "Purpose",
    "Recipients",
    "RegisterError",
    "UnknownPurposeError",
    "load_register",
    "resolve_register_path",
]

#: The register shipped with the code (used when an installation supplies none).
EXAMPLE_REGISTER: Path = Path(__file__).resolve().parent / "example_register.yaml"


def resolve_register_path(home: Path, data: Path, explicit: Path | None = None) -> Path:
    """The register an installation uses, first found: ``explicit``; ``HOME/governance_register.yaml``;
    ``DATA/landing/registers/governance_register.yaml``; the shipped ``EXAMPLE_REGISTER``."""
    if explicit is not None:
        return explicit
    for candidate in (
        home / "governance_register.yaml",
        data / "landing" / "registers" / "governance_register.yaml",
    ):
        if candidate.is_file():
            return candidate
    return EXAMPLE_REGISTER


LegalBasis = Literal["individual_care", "s251", "consent", "public_health"]
#: individual_care: direct care, UK GDPR 6(1)(e) + 9(2)(h), common-law duty met by implied consent.
#: s251: section 251 NHS Act 2006 support (CAG reference required), e.g. risk stratification.
#: consent: explicit patient consent. public_health: UK GDPR 9(2)(i) / regulation 3 COPI.
LEGAL_BASES: tuple[str, ...] = get_args(LegalBasis)

ReleaseField = Literal[
    "nhs_number", "practice_ods", "reason", "risk_tier", "risk_score", "segment", "efi_category", "efi_score"
]
#: What a release may contain. No names, dates of birth or addresses: the clinician looks the patient up
#: in the clinical system by NHS number (minimum necessary).
RELEASE_FIELDS: tuple[str, ...] = get_args(ReleaseField)

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_COHORT_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")  # cohort/definitions ids are snake_case
_ODS_PRACTICE = re.compile(r"^[A-Z][0-9]{5}$")
_PCN = re.compile(r"^U[0-9]{5}$")
_CAG = re.compile(r"^(?:[0-9]{2}/CAG/[0-9]{4}|(?:CAG|ECC|PIAG) [0-9]+-[0-9]+\([a-z]\)/[0-9]{4})$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class RegisterError(Refused):
    """The register could not be read or is malformed. ``str()`` is ``file:line: reason``."""

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


class UnknownPurposeError(Refused, LookupError):
    """No purpose with this id in the register."""


# --- field types -------------------------------------------------------------------------------------


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"'{value}' is not {what}")
        return value

    return AfterValidator(check)


def _distinct(what: str) -> AfterValidator:
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
Slug = Annotated[StrictStr, _pattern(_SLUG, "a lower-case slug like 'diabetes-recall'")]
OdsPractice = Annotated[StrictStr, _pattern(_ODS_PRACTICE, "a GP practice ODS code (a letter and 5 digits)")]
PcnCode = Annotated[StrictStr, _pattern(_PCN, "a PCN code (U and 5 digits)")]
CagReference = Annotated[StrictStr, _pattern(_CAG, "a CAG reference like '23/CAG/0001'")]
CohortId = Annotated[StrictStr, _pattern(_COHORT_ID, "a cohort id like 'diabetes_no_hba1c_12m'")]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipients(_Strict):
    """Organisations that may receive a release.

    Whatever the rule, a list released to a practice holds only that practice's registered patients (for
    a PCN code: patients of its member practices); ``practices_of_registered_patients: true`` lets every
    practice receive its own patients and nobody else's.
    """

    practices: Annotated[tuple[OdsPractice, ...], _distinct("practice")] = ()
    pcns: Annotated[tuple[PcnCode, ...], _distinct("PCN")] = ()
    practices_of_registered_patients: StrictBool = False

    @model_validator(mode="after")
    def _someone(self) -> Recipients:
        if not (self.practices or self.pcns or self.practices_of_registered_patients):
            raise ValueError("name practices and/or pcns, or set practices_of_registered_patients: true")
        return self


class Purpose(_Strict):
    """One approved purpose for re-identification. Field order matters: later checks read earlier fields."""

    id: Slug
    title: Text
    cag_reference: CagReference | None = None
    legal_basis: LegalBasis
    approving_body: Text
    approved_on: IsoDate
    expires_on: IsoDate
    cohorts: Annotated[tuple[CohortId, ...], _distinct("cohort")]
    recipients: Recipients
    requesters: Annotated[tuple[Text, ...], _distinct("requester role")] | None = None
    fields: Annotated[tuple[ReleaseField, ...], _distinct("field")]
    ndoo_applies: StrictBool
    max_cohort_age_days: Annotated[StrictInt, Field(gt=0)]

    @field_validator("legal_basis")
    @classmethod
    def _cag_iff_s251(cls, basis: str, info: ValidationInfo) -> str:
        if "cag_reference" not in info.data:  # the reference itself was invalid and is reported already
            return basis
        cag = info.data["cag_reference"]
        if basis == "s251" and cag is None:
            raise ValueError("legal_basis 's251' needs a cag_reference like '23/CAG/0001'")
        if basis != "s251" and cag is not None:
            raise ValueError(f"cag_reference is only for legal_basis 's251', not '{basis}'")
        return basis

    @field_validator("expires_on")
    @classmethod
    def _after_approval(cls, expires: date, info: ValidationInfo) -> date:
        approved = info.data.get("approved_on")
        if approved is not None and expires <= approved:
            raise ValueError(f"expires_on ({expires}) must be after approved_on ({approved})")
        return expires

    @field_validator("ndoo_applies")
    @classmethod
    def _ndoo_matches_basis(cls, applies: bool, info: ValidationInfo) -> bool:
        basis = info.data.get("legal_basis")
        if basis == "individual_care" and applies:
            # Applying the opt-out to direct care would drop patients from their own care lists.
            raise ValueError(
                "the National Data Opt-out does not apply to individual_care: set ndoo_applies: false"
            )
        if basis == "s251" and not applies:
            raise ValueError("the National Data Opt-out applies to s251 purposes: set ndoo_applies: true")
        return applies

    def is_active(self, on: date) -> bool:
        """Approved on or before ``on`` and not yet expired (a purpose expires at the start of expires_on)."""
        return self.approved_on <= on < self.expires_on

    def permits_cohort(self, cohort: str) -> bool:
        return cohort in self.cohorts

    def permits_recipient(self, practice_ods: str, pcn_code: str | None = None) -> bool:
        """May this practice (optionally a member of ``pcn_code``) receive releases under this purpose?"""
        if not _ODS_PRACTICE.fullmatch(practice_ods):
            return False
        r = self.recipients
        return (
            r.practices_of_registered_patients
            or practice_ods in r.practices
            or (pcn_code is not None and pcn_code in r.pcns)
        )

    def permits_requester(self, role: str) -> bool:
        """Any role if the purpose names none; otherwise one of ``requesters`` (case-insensitive)."""
        if self.requesters is None:
            return True
        return role.strip().casefold() in {r.casefold() for r in self.requesters}

    def cohort_is_fresh(self, built_on: date, on: date) -> bool:
        """A cohort built ``max_cohort_age_days`` or fewer days before ``on`` (and not in the future)."""
        return 0 <= (on - built_on).days <= self.max_cohort_age_days


class GovernanceRegister(_Strict):
    purposes: tuple[Purpose, ...]

    @field_validator("purposes")
    @classmethod
    def _unique_ids(cls, purposes: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
        if not purposes:
            raise ValueError("list at least one purpose")
        seen: set[str] = set()
        for i, p in enumerate(purposes):
            if p.id in seen:
                raise PydanticCustomError(
                    "duplicate",
                    "purpose id '{value}' is used more than once",
                    {"value": p.id, "at": (i, "id")},
                )
            seen.add(p.id)
        return purposes

    def purpose(self, purpose_id: str) -> Purpose:
        for p in self.purposes:
            if p.id == purpose_id:
                return p
        raise UnknownPurposeError(f"no purpose '{purpose_id}' in the governance register")

    def active_purposes(self, on: date) -> tuple[Purpose, ...]:
        return tuple(p for p in self.purposes if p.is_active(on))


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
            raise RegisterError(path, 1, "the register is empty")
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


def load_register(path: Path | str) -> GovernanceRegister:
    """Read and validate a governance register. Raises ``RegisterError`` (file:line: reason) if malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegisterError(path, None, f"cannot read the register ({type(exc).__name__})") from None
    data, lines = _parse(text, path)
    try:
        return GovernanceRegister.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            ((_line_for(loc, lines), reason) for loc, reason in map(_describe, exc.errors())),
            key=lambda p: p[0],
        )
        line, reason = problems[0]
        raise RegisterError(path, line, reason, problems) from None
