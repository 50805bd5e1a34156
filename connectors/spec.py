"""The extract specification: every landing file the pipeline reads, column by column.

One source of truth shared by the synthetic generator (which writes files to this shape), the
connectors (which read, type and validate them) and `docs/extracts.md` (generated from it). Column
names in the files follow the real national datasets the extract is modelled on (SUS/HES APC, ECDS,
CSDS, MHSDS, Adult Social Care CLD, GP system extracts); each column also has a canonical name used
inside the pipeline, so downstream code never needs to know a feed's spelling.

Files live at ``landing/<source>/<source>_<YYYY-MM>.csv`` (UTF-8, comma separated, header row), one
file per source per month. Registers and reference files live in ``landing/registers/`` and
``landing/reference/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DType = Literal["str", "date", "int", "float"]

# Patterns for code conformance (used by connectors for normalisation and by quality/ for checks).
PATTERNS: dict[str, str] = {
    "nhs_number": r"^\d{10}$",
    "ods_practice": r"^[A-Z]\d{5}$",
    "ods_provider": r"^[A-Z0-9]{3,5}$",
    "snomed": r"^\d{6,18}$",
    "dmd": r"^\d{6,18}$",
    "icd10": r"^[A-Z]\d{2}[0-9X]?$",
    "opcs4": r"^[A-Z]\d{2}\d?$",
    "lsoa21": r"^E01\d{6}$",
    "ethnic_category": r"^([A-HJ-NPR-SZ]|99)$",
    "postcode": r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$",
}

# NHS Data Dictionary ethnic category codes (2001 census based) used by every feed.
ETHNIC_CATEGORIES: dict[str, str] = {
    "A": "White - British",
    "B": "White - Irish",
    "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean",
    "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian",
    "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian",
    "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi",
    "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean",
    "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Other Ethnic Groups - Chinese",
    "S": "Other Ethnic Groups - Any other ethnic group",
    "Z": "Not stated",
    "99": "Not known",
}

# High-level ethnic group (the five census groups) from the category code, for reporting.
ETHNIC_GROUPS: dict[str, str] = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFG", "Mixed"),
    **dict.fromkeys("HJKL", "Asian"),
    **dict.fromkeys("MNP", "Black"),
    **dict.fromkeys("RS", "Other"),
    "Z": "Not stated",
    "99": "Not known",
}

TYPE1_OPT_OUT_SNOMED = "827241000000103"  # "Dissent from secondary use of GP patient identifiable data"


@dataclass(frozen=True)
class Column:
    """One column of an extract: the feed's own name, the pipeline's name, and what it means."""

    name: str
    canonical: str
    dtype: DType
    description: str
    required: bool = False
    identifiable: bool = False
    pattern: str | None = None  # key into PATTERNS


@dataclass(frozen=True)
class Extract:
    """One monthly feed: which setting it comes from, what it is modelled on, and its columns."""

    source: str
    setting: str
    modelled_on: str
    description: str
    date_format: str
    activity_date: str  # canonical date column that places a row in its month
    record_id: str | None  # canonical column unique per record within the feed, if the feed has one
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, canonical: str) -> Column:
        for c in self.columns:
            if c.canonical == canonical:
                return c
        raise KeyError(canonical)


def _c(
    name: str,
    canonical: str,
    dtype: DType,
    description: str,
    *,
    required: bool = False,
    identifiable: bool = False,
    pattern: str | None = None,
) -> Column:
    return Column(name, canonical, dtype, description, required, identifiable, pattern)


def _nhs(name: str = "NHS_Number") -> Column:
    return _c(
        name,
        "nhs_number",
        "str",
        "NHS number (10 digits, modulus 11). May carry spaces or dashes, or be missing.",
        identifiable=True,
        pattern="nhs_number",
    )


def _demographics(sex: str, dob: str, ethnic: str, postcode: str, practice: str) -> tuple[Column, ...]:
    """The demographic block that secondary-care feeds carry alongside the NHS number."""
    return (
        _c(sex, "sex", "str", "Sex: M, F or U (unknown). Feeds using 1/2/9 are mapped to M/F/U."),
        _c(dob, "date_of_birth", "date", "Date of birth.", identifiable=True),
        _c(
            ethnic,
            "ethnic_category",
            "str",
            "NHS ethnic category code (A-S, Z, 99); may be blank.",
            pattern="ethnic_category",
        ),
        _c(postcode, "postcode", "str", "Postcode of usual address.", identifiable=True, pattern="postcode"),
        _c(
            practice,
            "practice_code",
            "str",
            "ODS code of the registered GP practice.",
            pattern="ods_practice",
        ),
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
        _nhs(),
        _c(
            "Practice_Code",
            "practice_code",
            "str",
            "ODS code of the practice.",
            required=True,
            pattern="ods_practice",
        ),
        _c("Given_Name", "given_name", "str", "Given name.", identifiable=True),
        _c("Family_Name", "family_name", "str", "Family name.", identifiable=True),
        _c("Date_Of_Birth", "date_of_birth", "date", "Date of birth.", required=True, identifiable=True),
        _c("Sex", "sex", "str", "Sex: M, F or U."),
        _c(
            "Ethnic_Category",
            "ethnic_category",
            "str",
            "NHS ethnic category code; may be blank.",
            pattern="ethnic_category",
        ),
        _c("Address_Line_1", "address", "str", "First line of address.", identifiable=True),
        _c("Postcode", "postcode", "str", "Postcode.", identifiable=True, pattern="postcode"),
        _c(
            "Registration_Start",
            "registration_start",
            "date",
            "Start of registration at this practice.",
            required=True,
        ),
        _c(
            "Registration_End",
            "registration_end",
            "date",
            "End of registration (deregistration); blank if current.",
        ),
        _c("Date_Of_Death", "date_of_death", "date", "Date of death, if died."),
        _c(
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
        _nhs(),
        _c(
            "Practice_Code",
            "practice_code",
            "str",
            "ODS code of the practice.",
            required=True,
            pattern="ods_practice",
        ),
        _c("Event_ID", "event_id", "str", "Identifier of the journal entry.", required=True),
        _c("Event_Date", "event_date", "date", "Date the event was recorded as happening.", required=True),
        _c("SNOMED_Code", "snomed_code", "str", "SNOMED CT concept id.", required=True, pattern="snomed"),
        _c("Value", "value", "float", "Numeric value (measurements only)."),
        _c("Unit", "unit", "str", "Unit of the value."),
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
        _nhs(),
        _c(
            "Practice_Code",
            "practice_code",
            "str",
            "ODS code of the practice.",
            required=True,
            pattern="ods_practice",
        ),
        _c("Issue_ID", "issue_id", "str", "Identifier of the issue.", required=True),
        _c("Issue_Date", "issue_date", "date", "Date the medication was issued.", required=True),
        _c("DMD_Code", "dmd_code", "str", "dm+d concept id (VMP/AMP).", required=True, pattern="dmd"),
        _c("Quantity", "quantity", "float", "Quantity issued."),
    ),
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
        _nhs("NHS_NUMBER"),
        _c(
            "PROCODE",
            "provider_code",
            "str",
            "ODS code of the provider trust.",
            required=True,
            pattern="ods_provider",
        ),
        _c("EPIKEY", "episode_id", "str", "Episode key.", required=True),
        _c("SUSSPELLID", "spell_id", "str", "Spell identifier (one hospital stay).", required=True),
        _c("EPIORDER", "episode_order", "int", "Order of the episode within the spell."),
        _c("ADMIDATE", "admission_date", "date", "Date of admission.", required=True),
        _c(
            "ADMIMETH",
            "admission_method",
            "str",
            "Admission method (11-13 elective, 21-2D emergency, 31-32 maternity, 81-83 other).",
        ),
        _c("ADMISORC", "admission_source", "str", "Source of admission."),
        _c("EPISTART", "episode_start", "date", "Episode start date.", required=True),
        _c("EPIEND", "episode_end", "date", "Episode end date."),
        _c("DISDATE", "discharge_date", "date", "Discharge date (last episode of the spell)."),
        _c("DISMETH", "discharge_method", "str", "Discharge method (1 discharged, 4 died, ...)."),
        *(
            _c(
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
            _c(
                f"OPERTN_4_{i:02d}",
                f"opertn_{i:02d}",
                "str",
                f"OPCS-4 procedure {i} (4 characters, no dot).",
                pattern="opcs4",
            )
            for i in range(1, 4)
        ),
        *_demographics("SEX", "DOB", "ETHNOS", "POSTCODE", "GPPRAC"),
        _c("LSOA21", "lsoa21", "str", "LSOA 2021 of residence, derived by SUS.", pattern="lsoa21"),
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
        _nhs("NHS_NUMBER"),
        _c(
            "PROCODE",
            "provider_code",
            "str",
            "ODS code of the provider trust.",
            required=True,
            pattern="ods_provider",
        ),
        _c("EC_IDENT", "attendance_id", "str", "Attendance identifier.", required=True),
        _c("ARRIVAL_DATE", "arrival_date", "date", "Arrival date.", required=True),
        _c("ARRIVAL_TIME", "arrival_time", "str", "Arrival time (HH:MM)."),
        _c("EC_ARRIVAL_MODE_SNOMED_CT", "arrival_mode", "str", "Arrival mode (SNOMED CT).", pattern="snomed"),
        _c("EC_ACUITY_SNOMED_CT", "acuity", "str", "Acuity (SNOMED CT).", pattern="snomed"),
        _c(
            "EC_CHIEF_COMPLAINT_SNOMED_CT",
            "chief_complaint",
            "str",
            "Chief complaint (SNOMED CT).",
            pattern="snomed",
        ),
        _c("EC_DIAGNOSIS_01", "diagnosis", "str", "Primary diagnosis (SNOMED CT).", pattern="snomed"),
        _c("EC_DEPARTURE_DATE", "departure_date", "date", "Departure date."),
        _c(
            "EC_DISCHARGE_DESTINATION_SNOMED_CT",
            "discharge_destination",
            "str",
            "Discharge destination (SNOMED CT); admission codes mean admitted.",
            pattern="snomed",
        ),
        *_demographics("SEX", "DOB", "ETHNIC_CATEGORY", "POSTCODE", "GP_PRACTICE"),
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
        _nhs("NHS_NUMBER"),
        _c(
            "PROCODE",
            "provider_code",
            "str",
            "ODS code of the provider trust.",
            required=True,
            pattern="ods_provider",
        ),
        _c("ATTENDKEY", "attendance_id", "str", "Appointment key.", required=True),
        _c("APPTDATE", "appointment_date", "date", "Appointment date.", required=True),
        _c("ATTENDED", "attended", "str", "Attended or did not attend (5/6 attended, 2/3/4/7 not)."),
        _c("FIRSTATT", "first_attendance", "str", "First (1) or follow-up (2) attendance."),
        _c("TRETSPEF", "treatment_specialty", "str", "Treatment function code."),
        *_demographics("SEX", "DOB", "ETHNOS", "POSTCODE", "GPPRAC"),
    ),
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
        _nhs("NHS_Number"),
        _c(
            "Org_Code",
            "provider_code",
            "str",
            "ODS code of the provider.",
            required=True,
            pattern="ods_provider",
        ),
        _c("Service_Request_ID", "referral_id", "str", "Referral identifier.", required=True),
        _c("Referral_Date", "referral_date", "date", "Date the referral was received."),
        _c("Team_Type", "team_type", "str", "Service or team type (e.g. district nursing)."),
        _c("Care_Contact_ID", "contact_id", "str", "Care contact identifier.", required=True),
        _c("Care_Contact_Date", "contact_date", "date", "Date of the care contact.", required=True),
        _c("Attendance_Status", "attended", "str", "Attended (5/6) or not."),
        *_demographics("Gender", "Date_Of_Birth", "Ethnic_Category", "Postcode", "GP_Practice"),
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
        _nhs("NHS_Number"),
        _c(
            "Org_Code",
            "provider_code",
            "str",
            "ODS code of the provider.",
            required=True,
            pattern="ods_provider",
        ),
        _c("Record_Type", "record_type", "str", "REFERRAL, CONTACT or SPELL.", required=True),
        _c("Record_ID", "record_id", "str", "Identifier of the record.", required=True),
        _c("Service_Request_ID", "referral_id", "str", "Referral the record belongs to.", required=True),
        _c("Start_Date", "start_date", "date", "Referral date, contact date or spell start.", required=True),
        _c("End_Date", "end_date", "date", "Referral closure or spell end (blank if open)."),
        _c("Team_Type", "team_type", "str", "Mental health team type."),
        _c(
            "Primary_Diagnosis",
            "primary_diagnosis",
            "str",
            "ICD-10 primary diagnosis (F codes).",
            pattern="icd10",
        ),
        *_demographics("Gender", "Date_Of_Birth", "Ethnic_Category", "Postcode", "GP_Practice"),
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
        _c(
            "LA_Person_ID",
            "la_person_id",
            "str",
            "The council's own person identifier.",
            required=True,
            identifiable=True,
        ),
        _nhs("NHS_Number"),
        _c("Given_Name", "given_name", "str", "Given name.", identifiable=True),
        _c("Family_Name", "family_name", "str", "Family name.", identifiable=True),
        _c("Date_Of_Birth", "date_of_birth", "date", "Date of birth (DD/MM/YYYY).", identifiable=True),
        _c("Gender", "sex", "str", "Sex: M, F or U."),
        _c(
            "Ethnicity",
            "ethnic_category",
            "str",
            "NHS ethnic category code; may be blank.",
            pattern="ethnic_category",
        ),
        _c(
            "Postcode",
            "postcode",
            "str",
            "Postcode (may be out of date).",
            identifiable=True,
            pattern="postcode",
        ),
        _c("Event_Reference", "event_id", "str", "Council's event reference.", required=True),
        _c("Event_Type", "event_type", "str", "Request, Assessment, Service or Review.", required=True),
        _c("Event_Start_Date", "event_start", "date", "Start date of the event (DD/MM/YYYY).", required=True),
        _c("Event_End_Date", "event_end", "date", "End date of the event (DD/MM/YYYY); blank if open."),
        _c("Primary_Support_Reason", "support_reason", "str", "Primary support reason."),
        _c("Service_Type", "service_type", "str", "Service type (for Service events)."),
    ),
)

EXTRACTS: dict[str, Extract] = {
    e.source: e
    for e in (GP_PATIENTS, GP_EVENTS, GP_MEDICATIONS, APC, ECDS, OUTPATIENTS, CSDS, MHSDS, ASC_CLD)
}
SOURCES: tuple[str, ...] = tuple(EXTRACTS)
GP_SOURCES: frozenset[str] = frozenset({"gp_patients", "gp_events", "gp_medications"})


@dataclass(frozen=True)
class Register:
    """A register or reference file in landing/registers or landing/reference."""

    path: str
    description: str
    columns: tuple[tuple[str, str], ...]  # (name, description)


REGISTERS: tuple[Register, ...] = (
    Register(
        "registers/national_data_opt_out.csv",
        "National Data Opt-out: NHS numbers of people who opted out of secondary use.",
        (
            ("NHS_Number", "NHS number of the person who opted out."),
            ("Recorded_Date", "Date the opt-out was recorded (YYYY-MM-DD)."),
        ),
    ),
    Register(
        "registers/non_sharing_practices.csv",
        "Practices that have not signed the ICS data-sharing agreement: their GP data does not flow.",
        (("Practice_Code", "ODS code of the practice."), ("Reason", "Why the practice does not share.")),
    ),
    Register(
        "registers/governance_register.yaml",
        "Approved purposes for re-identification (example).",
        (),
    ),
    Register(
        "reference/practices.csv",
        "GP practices with their Primary Care Network and place.",
        (
            ("Practice_Code", "ODS code."),
            ("Practice_Name", "Name."),
            ("PCN_Code", "PCN ODS code."),
            ("PCN_Name", "PCN name."),
            ("Place", "Place (sub-ICS area)."),
            ("Practice_Postcode", "Postcode."),
        ),
    ),
    Register(
        "reference/lsoa_imd.csv",
        "LSOA 2021 areas with their Index of Multiple Deprivation decile (1 = most deprived).",
        (
            ("LSOA21CD", "LSOA 2021 code."),
            ("LSOA21NM", "LSOA name."),
            ("IMD_Decile", "IMD 2019 decile."),
            ("Place", "Place the LSOA lies in."),
        ),
    ),
    Register(
        "reference/postcode_lsoa.csv",
        "Postcode to LSOA 2021 lookup (ONSPD-like).",
        (("Postcode", "Postcode."), ("LSOA21CD", "LSOA 2021 code.")),
    ),
)


def extract_filename(source: str, month: str) -> str:
    """Relative path of a source's file for a month ('YYYY-MM') under landing/."""
    return f"{source}/{source}_{month}.csv"
