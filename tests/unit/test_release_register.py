"""Governance register: the example loads; each malformed register names file, line and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pseudonymisation.release import (
    LEGAL_BASES,
    RELEASE_FIELDS,
    RegisterError,
    UnknownPurposeError,
    load_register,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "pseudonymisation" / "release" / "example_register.yaml"

# Line numbers matter: each malformed case below edits one line of this text.
VALID = """\
purposes:
  - id: diabetes-recall
    title: Diabetes recall
    legal_basis: individual_care
    approving_body: ICS IG Group
    approved_on: 2026-06-01
    expires_on: 2027-06-01
    cohorts: [diabetes-overdue]
    recipients:
      practices_of_registered_patients: true
    fields: [nhs_number, reason]
    ndoo_applies: false
    max_cohort_age_days: 35
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "register.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> RegisterError:
    path = write(tmp_path, text)
    with pytest.raises(RegisterError) as caught:
        load_register(path)
    return caught.value


def test_example_register_loads() -> None:
    register = load_register(EXAMPLE)
    assert [p.id for p in register.purposes] == [
        "proactive-frailty-review",
        "diabetes-recall",
        "ics-risk-stratification",
        "winter-respiratory-pilot",
        "research-frailty-extract",
    ]
    risk = register.purpose("ics-risk-stratification")
    assert risk.legal_basis == "s251"
    assert risk.cag_reference == "23/CAG/0001"
    assert risk.ndoo_applies is True
    assert risk.fields == ("nhs_number", "risk_tier", "risk_score", "segment")
    assert risk.cohorts == ("top_tier_social_care", "frequent_ae_with_mh")
    assert register.purpose("diabetes-recall").ndoo_applies is False
    assert [p.id for p in register.active_purposes(date(2026, 11, 1))] == [
        "proactive-frailty-review",
        "diabetes-recall",
        "ics-risk-stratification",
        "research-frailty-extract",
    ]


def test_valid_text_loads(tmp_path: Path) -> None:
    purpose = load_register(write(tmp_path, VALID)).purpose("diabetes-recall")
    assert purpose.approved_on == date(2026, 6, 1)
    assert purpose.requesters is None
    assert purpose.max_cohort_age_days == 35


def test_unknown_purpose() -> None:
    with pytest.raises(UnknownPurposeError, match="no purpose 'nope'"):
        load_register(EXAMPLE).purpose("nope")


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        pytest.param(
            "title: Diabetes recall",
            "title: Diabetes: recall",
            3,
            "YAML syntax error: mapping values are not allowed here",
            id="yaml-syntax",
        ),
        pytest.param(
            "    ndoo_applies: false\n",
            "    ndoo_applies: false\n    colour: blue\n",
            13,
            "purposes[0]: unknown field 'colour'",
            id="unknown-field",
        ),
        pytest.param(
            "    title: Diabetes recall\n",
            "",
            2,
            "purposes[0]: missing required field 'title'",
            id="missing-field",
        ),
        pytest.param(
            "expires_on: 2027-06-01",
            "expires_on: 2026-01-01",
            7,
            "purposes[0].expires_on: expires_on (2026-01-01) must be after approved_on (2026-06-01)",
            id="expires-before-approved",
        ),
        pytest.param(
            "expires_on: 2027-06-01",
            "expires_on: 2026-06-01",
            7,
            "purposes[0].expires_on: expires_on (2026-06-01) must be after approved_on (2026-06-01)",
            id="expires-on-approval-day",
        ),
        pytest.param(
            "legal_basis: individual_care",
            "legal_basis: s251",
            4,
            "purposes[0].legal_basis: legal_basis 's251' needs a cag_reference like '23/CAG/0001'",
            id="s251-without-cag",
        ),
        pytest.param(
            "legal_basis: individual_care",
            "legal_basis: individual_care\n    cag_reference: 23/CAG/0001",
            4,
            "purposes[0].legal_basis: cag_reference is only for legal_basis 's251', not 'individual_care'",
            id="cag-without-s251",
        ),
        pytest.param(
            "legal_basis: individual_care",
            "legal_basis: s251\n    cag_reference: 23/CAG/1",
            5,
            "purposes[0].cag_reference: '23/CAG/1' is not a CAG reference like '23/CAG/0001'",
            id="bad-cag-format",
        ),
        pytest.param(
            "fields: [nhs_number, reason]",
            "fields: [nhs_number, postcode]",
            11,
            "purposes[0].fields[1]: 'postcode' is not allowed; expected "
            "'nhs_number', 'practice_ods', 'reason', 'risk_tier', 'risk_score', 'segment', "
            "'efi_category' or 'efi_score'",
            id="bad-field-name",
        ),
        pytest.param(
            "    fields: [nhs_number, reason]\n",
            "    fields:\n      - nhs_number\n      - reason\n      - date_of_birth\n",
            14,
            "purposes[0].fields[2]: 'date_of_birth' is not allowed; expected "
            "'nhs_number', 'practice_ods', 'reason', 'risk_tier', 'risk_score', 'segment', "
            "'efi_category' or 'efi_score'",
            id="bad-field-name-block-list",
        ),
        pytest.param(
            "fields: [nhs_number, reason]",
            "fields: [nhs_number, reason, nhs_number]",
            11,
            "purposes[0].fields[2]: field 'nhs_number' is listed more than once",
            id="repeated-field",
        ),
        pytest.param(
            "legal_basis: individual_care",
            "legal_basis: direct_care",
            4,
            "purposes[0].legal_basis: 'direct_care' is not allowed; expected "
            "'individual_care', 's251', 'consent' or 'public_health'",
            id="unknown-legal-basis",
        ),
        pytest.param(
            "ndoo_applies: false",
            "ndoo_applies: true",
            12,
            "purposes[0].ndoo_applies: the National Data Opt-out does not apply to individual_care: "
            "set ndoo_applies: false",
            id="ndoo-on-individual-care",
        ),
        pytest.param(
            "ndoo_applies: false",
            "ndoo_applies: 'no'",
            12,
            "purposes[0].ndoo_applies: Input should be a valid boolean",
            id="ndoo-not-a-bool",
        ),
        pytest.param(
            "approved_on: 2026-06-01",
            "approved_on: 2026-13-01",
            6,
            "purposes[0].approved_on: '2026-13-01' is not a real date (month must be in 1..12)",
            id="impossible-date",
        ),
        pytest.param(
            "      practices_of_registered_patients: true\n",
            "      practices: [A81001, 81002]\n",
            10,
            "purposes[0].recipients.practices[1]: Input should be a valid string",
            id="practice-not-a-string",
        ),
        pytest.param(
            "      practices_of_registered_patients: true\n",
            "      practices: [A81001, Z9]\n",
            10,
            "purposes[0].recipients.practices[1]: 'Z9' is not a GP practice ODS code (a letter and 5 digits)",
            id="bad-ods-code",
        ),
        pytest.param(
            "      practices_of_registered_patients: true\n",
            "      practices_of_registered_patients: false\n",
            9,
            "purposes[0].recipients: name practices, pcns and/or domains, or set practices_of_registered_patients: true",
            id="no-recipients",
        ),
        pytest.param(
            "cohorts: [diabetes-overdue]",
            "cohorts: [Diabetes Overdue]",
            8,
            "purposes[0].cohorts[0]: 'Diabetes Overdue' is not a cohort id like 'diabetes_no_hba1c_12m'",
            id="bad-cohort-id",
        ),
        pytest.param(
            "id: diabetes-recall",
            "id: diabetes_recall",
            2,
            "purposes[0].id: 'diabetes_recall' is not a lower-case slug like 'diabetes-recall'",
            id="bad-purpose-id",
        ),
        pytest.param(
            "max_cohort_age_days: 35",
            "max_cohort_age_days: 0",
            13,
            "purposes[0].max_cohort_age_days: Input should be greater than 0",
            id="zero-age",
        ),
        pytest.param(
            "    approved_on: 2026-06-01\n",
            "    approved_on: 2026-06-01\n    approved_on: 2026-06-02\n",
            7,
            "purposes[0]: duplicate key 'approved_on'",
            id="duplicate-key",
        ),
    ],
)
def test_malformed_register_names_line_and_reason(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    assert old in VALID
    error = error_for(tmp_path, VALID.replace(old, new))
    assert (error.line, error.reason) == (line, reason)
    assert str(error).startswith(f"{tmp_path / 'register.yaml'}:{line}: {reason}")


def test_duplicate_purpose_id_points_at_the_second(tmp_path: Path) -> None:
    text = VALID + VALID.removeprefix("purposes:\n")
    error = error_for(tmp_path, text)
    assert (
        str(error)
        == f"{tmp_path / 'register.yaml'}:14: purposes[1].id: purpose id 'diabetes-recall' is used more than once"
    )


def test_several_problems_report_the_first_line_and_count(tmp_path: Path) -> None:
    text = VALID.replace("fields: [nhs_number, reason]", "fields: [postcode]").replace(
        "    title: Diabetes recall\n", "    title: Diabetes recall\n    colour: blue\n"
    )
    error = error_for(tmp_path, text)
    assert (
        str(error)
        == f"{tmp_path / 'register.yaml'}:4: purposes[0]: unknown field 'colour' (and 1 more problem(s))"
    )
    assert [line for line, _ in error.problems] == [4, 12]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "the file is empty"),
        (
            "- just\n- a list\n",
            1,
            "register: Input should be a valid dictionary or instance of GovernanceRegister",
        ),
        ("purposes: []\n", 1, "purposes: list at least one purpose"),
        (
            "purposes:\n  - id: x\n    title: [unclosed\n",
            4,
            "YAML syntax error: expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_degenerate_registers(tmp_path: Path, text: str, line: int, reason: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.line, error.reason) == (line, reason)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(RegisterError) as caught:
        load_register(tmp_path / "absent.yaml")
    assert str(caught.value) == f"{tmp_path / 'absent.yaml'}: cannot read the file (FileNotFoundError)"


def test_is_active_around_approval_and_expiry() -> None:
    purpose = load_register(EXAMPLE).purpose("diabetes-recall")  # approved 2026-06-01, expires 2027-06-01
    assert not purpose.is_active(date(2026, 5, 31))
    assert purpose.is_active(date(2026, 6, 1))
    assert purpose.is_active(date(2027, 5, 31))
    assert not purpose.is_active(date(2027, 6, 1))
    expired = load_register(EXAMPLE).purpose("winter-respiratory-pilot")
    assert not expired.is_active(date(2026, 11, 1))


def test_permits_cohort_requester_and_freshness() -> None:
    frailty = load_register(EXAMPLE).purpose("proactive-frailty-review")
    assert frailty.permits_cohort("frail_65_high_risk_no_gp_6m")
    assert not frailty.permits_cohort("top_tier_social_care")
    assert frailty.permits_requester("R8000")  # Clinical Practitioner Access Role
    assert frailty.permits_requester("R8008")
    assert not frailty.permits_requester("R8001")
    assert not frailty.permits_requester("GP")  # a role is an RBAC code, never free text
    assert frailty.cohort_is_fresh(date(2026, 10, 1), on=date(2026, 11, 5))  # 35 days
    assert not frailty.cohort_is_fresh(date(2026, 10, 1), on=date(2026, 11, 6))  # 36 days
    assert not frailty.cohort_is_fresh(date(2026, 11, 7), on=date(2026, 11, 6))  # built in the future
    assert load_register(EXAMPLE).purpose("winter-respiratory-pilot").permits_requester("anyone")


def test_permits_recipient() -> None:
    register = load_register(EXAMPLE)
    own_patients = register.purpose("proactive-frailty-review")
    assert own_patients.permits_recipient("B82005")
    assert own_patients.permits_recipient("B82005", "U99999")
    assert not own_patients.permits_recipient("not-a-code")
    by_pcn = register.purpose("ics-risk-stratification")
    assert by_pcn.permits_recipient("B82005", "U12345")
    assert not by_pcn.permits_recipient("B82005", "U99999")
    assert not by_pcn.permits_recipient("B82005")
    listed = register.purpose("winter-respiratory-pilot")
    assert listed.permits_recipient("A81001")
    assert listed.permits_recipient("A81002", "U12345")
    assert not listed.permits_recipient("A81003")


def test_requesters_are_rbac_role_codes(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(EXAMPLE.read_text().replace("requesters: [R8000, R8001]", "requesters: [GP, R8001]"))
    with pytest.raises(RegisterError) as caught:
        load_register(path)
    assert (
        caught.value.reason == "purposes[1].requesters[0]: 'GP' is not a national RBAC role code like 'R8000'"
    )


def test_consent_needs_a_consent_register_and_only_consent_may_name_one(tmp_path: Path) -> None:
    consent = EXAMPLE.read_text().replace(
        "    legal_basis: individual_care\n    approving_body: ICS Information Governance Group\n"
        "    approved_on: 2026-06-01",
        "    legal_basis: consent\n    approving_body: ICS Information Governance Group\n"
        "    approved_on: 2026-06-01",
    )
    path = tmp_path / "r.yaml"
    path.write_text(consent)
    with pytest.raises(RegisterError) as caught:
        load_register(path)
    assert caught.value.reason == (
        "purposes[1]: legal_basis 'consent' needs a consent_register naming the evidence of consent"
    )
    path.write_text(consent.replace("max_cohort_age_days: 35\n\n  - id: ics", "max_cohort_age_days: 35\n"
                    "    consent_register: consent/diabetes.csv\n\n  - id: ics"))  # fmt: skip
    assert load_register(path).purpose("diabetes-recall").consent_register == "consent/diabetes.csv"
    path.write_text(EXAMPLE.read_text().replace("max_cohort_age_days: 31\n", "max_cohort_age_days: 31\n"
                    "    consent_register: consent/x.csv\n"))  # fmt: skip
    with pytest.raises(RegisterError, match="consent_register is only for legal_basis 'consent', not 's251'"):
        load_register(path)


def test_extract_domains() -> None:
    extract = load_register(EXAMPLE).purpose("research-frailty-extract")
    assert extract.permits_domain("research-tre") and not extract.permits_domain("marketing")
    assert not extract.permits_recipient("A81001")  # an extract purpose never releases a list


def test_constants() -> None:
    assert LEGAL_BASES == ("individual_care", "s251", "consent", "public_health")
    assert "nhs_number" in RELEASE_FIELDS and "postcode" not in RELEASE_FIELDS
