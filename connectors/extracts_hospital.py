"""Hospital extracts (acute): SUS/HES admitted patient care, ECDS A&E attendances, outpatients."""

from __future__ import annotations

from connectors.columns import Extract, column, demographics, nhs_column

# Every SUS/ECDS extract names its provider trust the same way.
_PROVIDER = column(
    "PROCODE",
    "provider_code",
    "str",
    "ODS code of the provider trust.",
    required=True,
    pattern="ods_provider",
)

APC = Extract(
    source="apc",
    setting="acute",
    modelled_on="SUS+/HES Admitted Patient Care (one row per episode)",
    description="Admitted patient care episodes; episodes of one hospital stay share SUSSPELLID.",
    date_format="%Y-%m-%d",
    activity_date="episode_start",
    record_id="episode_id",
    columns=(
        nhs_column("NHS_NUMBER"),
        _PROVIDER,
        column("EPIKEY", "episode_id", "str", "Episode key.", required=True, pattern="record_id"),
        column(
            "SUSSPELLID",
            "spell_id",
            "str",
            "Spell identifier (one hospital stay).",
            required=True,
            pattern="record_id",
        ),
        column("EPIORDER", "episode_order", "int", "Order of the episode within the spell.", bounds=(1, 99)),
        column("ADMIDATE", "admission_date", "date", "Date of admission.", required=True),
        column(
            "ADMIMETH",
            "admission_method",
            "str",
            "Admission method (11-13 elective, 21-2D emergency, 31-32 maternity, 81-83 other).",
            pattern="dd_code",
        ),
        column("ADMISORC", "admission_source", "str", "Source of admission.", pattern="dd_code"),
        column("EPISTART", "episode_start", "date", "Episode start date.", required=True),
        column("EPIEND", "episode_end", "date", "Episode end date."),
        column("DISDATE", "discharge_date", "date", "Discharge date (last episode of the spell)."),
        column(
            "DISMETH",
            "discharge_method",
            "str",
            "Discharge method (1 discharged, 4 died, ...).",
            pattern="dd_code",
        ),
        *(
            column(
                f"DIAG_4_{i:02d}",
                f"diag_{i:02d}",
                "str",
                f"ICD-10 diagnosis {i} (4 characters, no dot).",
                pattern="icd10",
                required=(i == 1),
            )
            for i in range(1, 5)
        ),
        *(
            column(
                f"OPERTN_4_{i:02d}",
                f"opertn_{i:02d}",
                "str",
                f"OPCS-4 procedure {i} (4 characters, no dot).",
                pattern="opcs4",
            )
            for i in range(1, 4)
        ),
        *demographics("SEX", "DOB", "ETHNOS", "POSTCODE", "GPPRAC"),
        column("LSOA21", "lsoa21", "str", "LSOA 2021 of residence, derived by SUS.", pattern="lsoa21"),
    ),
)

ECDS = Extract(
    source="ecds",
    setting="acute",
    modelled_on="Emergency Care Data Set (ECDS)",
    description="Emergency department (A&E) attendances with SNOMED CT coded complaint, acuity and diagnosis.",
    date_format="%Y-%m-%d",
    activity_date="arrival_date",
    record_id="attendance_id",
    columns=(
        nhs_column("NHS_NUMBER"),
        _PROVIDER,
        column(
            "EC_IDENT", "attendance_id", "str", "Attendance identifier.", required=True, pattern="record_id"
        ),
        column("ARRIVAL_DATE", "arrival_date", "date", "Arrival date.", required=True),
        column("ARRIVAL_TIME", "arrival_time", "str", "Arrival time (HH:MM).", pattern="time_hhmm"),
        column(
            "EC_ARRIVAL_MODE_SNOMED_CT", "arrival_mode", "str", "Arrival mode (SNOMED CT).", pattern="snomed"
        ),
        column("EC_ACUITY_SNOMED_CT", "acuity", "str", "Acuity (SNOMED CT).", pattern="snomed"),
        column(
            "EC_CHIEF_COMPLAINT_SNOMED_CT",
            "chief_complaint",
            "str",
            "Chief complaint (SNOMED CT).",
            pattern="snomed",
        ),
        column("EC_DIAGNOSIS_01", "diagnosis", "str", "Primary diagnosis (SNOMED CT).", pattern="snomed"),
        column("EC_DEPARTURE_DATE", "departure_date", "date", "Departure date."),
        column(
            "EC_DISCHARGE_DESTINATION_SNOMED_CT",
            "discharge_destination",
            "str",
            "Discharge destination (SNOMED CT); admission codes mean admitted.",
            pattern="snomed",
        ),
        *demographics("SEX", "DOB", "ETHNIC_CATEGORY", "POSTCODE", "GP_PRACTICE"),
    ),
)

OUTPATIENTS = Extract(
    source="outpatients",
    setting="acute",
    modelled_on="SUS+/HES Outpatients",
    description="Outpatient appointments, attended or not.",
    date_format="%Y-%m-%d",
    activity_date="appointment_date",
    record_id="attendance_id",
    columns=(
        nhs_column("NHS_NUMBER"),
        _PROVIDER,
        column("ATTENDKEY", "attendance_id", "str", "Appointment key.", required=True, pattern="record_id"),
        column("APPTDATE", "appointment_date", "date", "Appointment date.", required=True),
        column(
            "ATTENDED",
            "attended",
            "str",
            "Attended or did not attend (5/6 attended, 2/3/4/7 not).",
            pattern="dd_code",
        ),
        column(
            "FIRSTATT", "first_attendance", "str", "First (1) or follow-up (2) attendance.", pattern="dd_code"
        ),
        column("TRETSPEF", "treatment_specialty", "str", "Treatment function code.", pattern="dd_code"),
        *demographics("SEX", "DOB", "ETHNOS", "POSTCODE", "GPPRAC"),
    ),
)
