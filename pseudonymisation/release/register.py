"""The governance register: which purposes may release which cohorts, to whom, and with which fields.

The register is a YAML file reviewed by the IG lead (format and example in docs/governance.md). It takes
effect only inside a governance bundle signed by an approver and installed in the home (``bundle.py``):
a register passed on a command line or dropped into a landing folder is never used for a release. It is
validated strictly (unknown fields, wrong types, inconsistent legal basis are errors) because a typo in a
register must never widen a release. A malformed register raises ``RegisterError`` naming the file, the
line and the reason. The register holds no patient data, so messages may quote its values.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, StrictBool, StrictInt, StrictStr, ValidationInfo, field_validator, model_validator

from core.errors import Refused

from ._schema import (
    ODS_PRACTICE,
    CohortId,
    IsoDate,
    OdsPractice,
    PcnCode,
    RbacRole,
    RegisterError,
    Slug,
    Strict,
    Text,
    distinct,
    load_yaml_model,
    pattern,
    unique_keys,
)
from .generalise import LevelName

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
]

#: The register shipped with the code: the example bundle dev mode signs and installs.
EXAMPLE_REGISTER: Path = Path(__file__).resolve().parent / "example_register.yaml"


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

_CAG = re.compile(r"^(?:[0-9]{2}/CAG/[0-9]{4}|(?:CAG|ECC|PIAG) [0-9]+-[0-9]+\([a-z]\)/[0-9]{4})$")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_CONSENT_FILE = re.compile(r"^consent/[a-z0-9][a-z0-9_-]{0,63}\.csv$")
CagReference = Annotated[StrictStr, pattern(_CAG, "a CAG reference like '23/CAG/0001'")]
Domain = Annotated[StrictStr, pattern(_DOMAIN, "an extract recipient domain like 'research-tre'")]
ConsentFile = Annotated[StrictStr, pattern(_CONSENT_FILE, "a bundle file like 'consent/my-study.csv'")]


class UnknownPurposeError(Refused, LookupError):
    """No purpose with this id in the register."""


class Recipients(Strict):
    """Organisations that may receive a release.

    Whatever the rule, a list released to a practice holds only that practice's registered patients (for
    a PCN code: patients of its member practices); ``practices_of_registered_patients: true`` lets every
    practice receive its own patients and nobody else's.
    """

    practices: Annotated[tuple[OdsPractice, ...], distinct("practice")] = ()
    pcns: Annotated[tuple[PcnCode, ...], distinct("PCN")] = ()
    practices_of_registered_patients: StrictBool = False
    #: Outside recipients of pseudonymised extracts (``phm extract --domain``): never re-identified lists.
    domains: Annotated[tuple[Domain, ...], distinct("domain")] = ()

    @model_validator(mode="after")
    def _someone(self) -> Recipients:
        if not (self.practices or self.pcns or self.practices_of_registered_patients or self.domains):
            raise ValueError(
                "name practices, pcns and/or domains, or set practices_of_registered_patients: true"
            )
        return self


class Purpose(Strict):
    """One approved purpose for re-identification. Field order matters: later checks read earlier fields."""

    id: Slug
    title: Text
    cag_reference: CagReference | None = None
    legal_basis: LegalBasis
    approving_body: Text
    approved_on: IsoDate
    expires_on: IsoDate
    cohorts: Annotated[tuple[CohortId, ...], distinct("cohort")]
    recipients: Recipients
    #: National RBAC role codes a requester must hold (users register); None: any active user's role.
    requesters: Annotated[tuple[RbacRole, ...], distinct("requester role")] | None = None
    fields: Annotated[tuple[ReleaseField, ...], distinct("field")]
    ndoo_applies: StrictBool
    max_cohort_age_days: Annotated[StrictInt, Field(gt=0)]
    #: For legal_basis 'consent': the bundle file recording who consented (and when, and whether their
    #: consent overrides their opt-outs). Required for consent, refused for any other basis.
    consent_register: ConsentFile | None = None
    #: For extracts (`phm extract`): the coarsest generalisation level the purpose can still use
    #: (`generalise.LADDER`); None: down to the last rung, the risk tier alone.
    extract_coarsest_level: LevelName | None = None

    @model_validator(mode="after")
    def _evidence_iff_consent(self) -> Purpose:
        # A model validator, not a field one: pydantic skips field validators for an omitted default.
        if self.legal_basis == "consent" and self.consent_register is None:
            raise ValueError("legal_basis 'consent' needs a consent_register naming the evidence of consent")
        if self.legal_basis != "consent" and self.consent_register is not None:
            raise ValueError(f"consent_register is only for legal_basis 'consent', not '{self.legal_basis}'")
        return self

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
        if not ODS_PRACTICE.fullmatch(practice_ods):
            return False
        r = self.recipients
        return (
            r.practices_of_registered_patients
            or practice_ods in r.practices
            or (pcn_code is not None and pcn_code in r.pcns)
        )

    def permits_requester(self, role_code: str) -> bool:
        """Any role if the purpose names none; otherwise one of ``requesters`` (RBAC codes, exact)."""
        return self.requesters is None or role_code in self.requesters

    def permits_domain(self, domain: str) -> bool:
        """May pseudonymised extracts of this purpose go to ``domain``?"""
        return domain in self.recipients.domains

    def cohort_is_fresh(self, built_on: date, on: date) -> bool:
        """A cohort built ``max_cohort_age_days`` or fewer days before ``on`` (and not in the future)."""
        return 0 <= (on - built_on).days <= self.max_cohort_age_days


class GovernanceRegister(Strict):
    purposes: tuple[Purpose, ...]

    @field_validator("purposes")
    @classmethod
    def _unique_ids(cls, purposes: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
        if not purposes:
            raise ValueError("list at least one purpose")
        unique_keys(purposes, "id", "purpose id")
        return purposes

    def purpose(self, purpose_id: str) -> Purpose:
        for p in self.purposes:
            if p.id == purpose_id:
                return p
        raise UnknownPurposeError(f"no purpose '{purpose_id}' in the governance register")

    def active_purposes(self, on: date) -> tuple[Purpose, ...]:
        return tuple(p for p in self.purposes if p.is_active(on))


def load_register(path: Path | str, *, text: str | None = None) -> GovernanceRegister:
    """Read and validate a governance register. Raises ``RegisterError`` (file:line: reason) if malformed."""
    return load_yaml_model(path, GovernanceRegister, text=text)
