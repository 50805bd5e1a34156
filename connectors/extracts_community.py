"""Community extracts: community services (CSDS), mental health (MHSDS), adult social care (ASC CLD)."""

from __future__ import annotations

from connectors.codes import (
    CLD_EVENT_TYPES,
    CLD_SERVICE_TYPES,
    CLD_SUPPORT_REASONS,
    CSDS_TEAM_TYPES,
    MHSDS_RECORD_TYPES,
    MHSDS_TEAM_TYPES,
)
from connectors.columns import Extract, column, demographics, name_column, nhs_column, sex_column

# CSDS and MHSDS name the provider the same way.
_PROVIDER = column(
    "Org_Code",
    "provider_code",
    "str",
    "ODS code of the provider.",
    required=True,
    pattern="ods_provider",
)

CSDS = Extract(
    source="csds",
    setting="community",
    modelled_on="Community Services Data Set (CSDS) referrals and care contacts",
    description="Community care contacts (district nursing, therapies, ...) with their referral.",
    date_format="%Y-%m-%d",
    activity_date="contact_date",
    record_id="contact_id",
    columns=(
        nhs_column("NHS_Number"),
        _PROVIDER,
        column(
            "Service_Request_ID",
            "referral_id",
            "str",
            "Referral identifier.",
            required=True,
            pattern="record_id",
        ),
        column("Referral_Date", "referral_date", "date", "Date the referral was received."),
        column(
            "Team_Type",
            "team_type",
            "str",
            "Service or team type (e.g. district nursing).",
            codes=CSDS_TEAM_TYPES,
        ),
        column(
            "Care_Contact_ID",
            "contact_id",
            "str",
            "Care contact identifier.",
            required=True,
            pattern="record_id",
        ),
        column("Care_Contact_Date", "contact_date", "date", "Date of the care contact.", required=True),
        column("Attendance_Status", "attended", "str", "Attended (5/6) or not.", pattern="dd_code"),
        *demographics("Gender", "Date_Of_Birth", "Ethnic_Category", "Postcode", "GP_Practice"),
    ),
)

MHSDS = Extract(
    source="mhsds",
    setting="mental health",
    modelled_on="Mental Health Services Data Set (MHSDS): referrals, care contacts, hospital spells",
    description="Mental health referrals, care contacts and inpatient spells; Record_Type says which.",
    date_format="%Y-%m-%d",
    activity_date="start_date",
    record_id="record_id",
    columns=(
        nhs_column("NHS_Number"),
        _PROVIDER,
        column(
            "Record_Type",
            "record_type",
            "str",
            "REFERRAL, CONTACT or SPELL.",
            required=True,
            codes=MHSDS_RECORD_TYPES,
        ),
        column(
            "Record_ID", "record_id", "str", "Identifier of the record.", required=True, pattern="record_id"
        ),
        column(
            "Service_Request_ID",
            "referral_id",
            "str",
            "Referral the record belongs to.",
            required=True,
            pattern="record_id",
        ),
        column(
            "Start_Date", "start_date", "date", "Referral date, contact date or spell start.", required=True
        ),
        column("End_Date", "end_date", "date", "Referral closure or spell end (blank if open)."),
        column("Team_Type", "team_type", "str", "Mental health team type.", codes=MHSDS_TEAM_TYPES),
        column(
            "Primary_Diagnosis",
            "primary_diagnosis",
            "str",
            "ICD-10 primary diagnosis (F codes).",
            pattern="icd10",
        ),
        *demographics("Gender", "Date_Of_Birth", "Ethnic_Category", "Postcode", "GP_Practice"),
    ),
)

ASC_CLD = Extract(
    source="asc_cld",
    setting="adult social care",
    modelled_on="Adult Social Care Client Level Data (CLD), local identifiable version",
    description=(
        "Council adult social care events. Keyed by the local authority's own person id; the NHS number "
        "is often missing, so these records are traced on name, date of birth, sex and postcode."
    ),
    date_format="%d/%m/%Y",
    activity_date="event_start",
    record_id="event_id",
    columns=(
        column(
            "LA_Person_ID",
            "la_person_id",
            "str",
            "The council's own person identifier.",
            required=True,
            identifiable=True,
            pattern="record_id",
        ),
        nhs_column("NHS_Number"),
        name_column("Given_Name", "given_name", "Given name."),
        name_column("Family_Name", "family_name", "Family name."),
        column("Date_Of_Birth", "date_of_birth", "date", "Date of birth (DD/MM/YYYY).", identifiable=True),
        sex_column("Gender"),
        column(
            "Ethnicity",
            "ethnic_category",
            "str",
            "NHS ethnic category code; may be blank.",
            pattern="ethnic_category",
        ),
        column(
            "Postcode",
            "postcode",
            "str",
            "Postcode (may be out of date).",
            identifiable=True,
            pattern="postcode",
        ),
        column(
            "Event_Reference",
            "event_id",
            "str",
            "Council's event reference.",
            required=True,
            pattern="record_id",
        ),
        column(
            "Event_Type",
            "event_type",
            "str",
            "Request, Assessment, Service or Review.",
            required=True,
            codes=CLD_EVENT_TYPES,
        ),
        column(
            "Event_Start_Date", "event_start", "date", "Start date of the event (DD/MM/YYYY).", required=True
        ),
        column("Event_End_Date", "event_end", "date", "End date of the event (DD/MM/YYYY); blank if open."),
        column(
            "Primary_Support_Reason",
            "support_reason",
            "str",
            "Primary support reason.",
            codes=CLD_SUPPORT_REASONS,
        ),
        column(
            "Service_Type",
            "service_type",
            "str",
            "Service type (for Service events).",
            codes=CLD_SERVICE_TYPES,
        ),
    ),
)
