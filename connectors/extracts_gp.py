"""GP system extracts (primary care): patient demographics, coded events, medication issues."""

from __future__ import annotations

from connectors.codes import GP_UNITS
from connectors.columns import Extract, column, name_column, nhs_column, sex_column

# Every GP extract is per practice.
_PRACTICE = column(
    "Practice_Code",
    "practice_code",
    "str",
    "ODS code of the practice.",
    required=True,
    pattern="ods_practice",
)

GP_PATIENTS = Extract(
    source="gp_patients",
    setting="primary care",
    modelled_on="GP system patient demographics extract (delta: first month full, then changes)",
    description=(
        "Registered patients of the practices that share data. The first month is a full list; later "
        "months carry new registrations, changes of practice or address, deaths and deregistrations. "
        "The latest row per NHS number is the GP demographic master used for tracing."
    ),
    date_format="%Y-%m-%d",
    activity_date="extract_date",
    record_id=None,
    columns=(
        nhs_column(required=True),
        _PRACTICE,
        name_column("Given_Name", "given_name", "Given name."),
        name_column("Family_Name", "family_name", "Family name."),
        column("Date_Of_Birth", "date_of_birth", "date", "Date of birth.", required=True, identifiable=True),
        sex_column("Sex"),
        column(
            "Ethnic_Category",
            "ethnic_category",
            "str",
            "NHS ethnic category code; may be blank.",
            pattern="ethnic_category",
        ),
        name_column("Address_Line_1", "address", "First line of address."),
        column("Postcode", "postcode", "str", "Postcode.", identifiable=True, pattern="postcode"),
        column(
            "Registration_Start",
            "registration_start",
            "date",
            "Start of registration at this practice.",
            required=True,
        ),
        column(
            "Registration_End",
            "registration_end",
            "date",
            "End of registration (deregistration); blank if current.",
        ),
        column("Date_Of_Death", "date_of_death", "date", "Date of death, if died."),
        column(
            "Extract_Date",
            "extract_date",
            "date",
            "Date the row was extracted (in the file's month).",
            required=True,
        ),
    ),
)

GP_EVENTS = Extract(
    source="gp_events",
    setting="primary care",
    modelled_on="GP system coded journal (SNOMED CT)",
    description="Coded clinical events from the GP record: consultations, diagnoses, measurements, opt-outs.",
    date_format="%Y-%m-%d",
    activity_date="event_date",
    record_id="event_id",
    columns=(
        nhs_column(required=True),
        _PRACTICE,
        column(
            "Event_ID",
            "event_id",
            "str",
            "Identifier of the journal entry.",
            required=True,
            pattern="record_id",
        ),
        column(
            "Event_Date", "event_date", "date", "Date the event was recorded as happening.", required=True
        ),
        column("SNOMED_Code", "snomed_code", "str", "SNOMED CT concept id.", required=True, pattern="snomed"),
        column("Value", "value", "float", "Numeric value (measurements only).", bounds=(-1e6, 1e6)),
        column("Unit", "unit", "str", "Unit of the value.", codes=GP_UNITS),
    ),
)

GP_MEDICATIONS = Extract(
    source="gp_medications",
    setting="primary care",
    modelled_on="GP system medication issues (dm+d)",
    description="Medication issues from the GP record, coded with dm+d.",
    date_format="%Y-%m-%d",
    activity_date="issue_date",
    record_id="issue_id",
    columns=(
        nhs_column(required=True),
        _PRACTICE,
        column("Issue_ID", "issue_id", "str", "Identifier of the issue.", required=True, pattern="record_id"),
        column("Issue_Date", "issue_date", "date", "Date the medication was issued.", required=True),
        column("DMD_Code", "dmd_code", "str", "dm+d concept id (VMP/AMP).", required=True, pattern="dmd"),
        column("Quantity", "quantity", "float", "Quantity issued.", bounds=(0, 1e6)),
    ),
)
