"""National code lists the extracts use: NHS ethnic categories (and their census groups), the Type 1 opt-out."""

from __future__ import annotations

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

# Code lists of the categorical text columns (values compared case-insensitively): a value off the list
# is quarantined (invalid_code), so no free text reaches the warehouse through a category column.
# Labels as the national data sets publish them (CSDS team types, MHSDS record and team types, ASC CLD
# event types, primary support reasons and service types); extend a list when a feed uses a new label.
CSDS_TEAM_TYPES: frozenset[str] = frozenset({
    "Community Matron", "District Nursing", "Health Visiting", "Occupational Therapy", "Physiotherapy",
    "Podiatry", "School Nursing", "Speech and Language Therapy",
})  # fmt: skip
MHSDS_RECORD_TYPES: frozenset[str] = frozenset({"REFERRAL", "CONTACT", "SPELL"})
MHSDS_TEAM_TYPES: frozenset[str] = frozenset({
    "Community Mental Health Team - Functional", "Crisis Resolution Team/Home Treatment Service",
    "NHS Talking Therapies", "Early Intervention Team for Psychosis", "Memory Services/Clinic",
    "Older People Community Mental Health Team",
})  # fmt: skip
CLD_EVENT_TYPES: frozenset[str] = frozenset({"Request", "Assessment", "Service", "Review"})
CLD_SUPPORT_REASONS: frozenset[str] = frozenset({
    "Physical Support: Personal Care Support", "Physical Support: Access and Mobility Only",
    "Sensory Support: Support for Visual Impairment", "Sensory Support: Support for Hearing Impairment",
    "Sensory Support: Support for Dual Impairment", "Social Support: Support for Social Isolation/Other",
    "Social Support: Substance Misuse Support", "Support with Memory and Cognition",
    "Learning Disability Support", "Mental Health Support",
})  # fmt: skip
CLD_SERVICE_TYPES: frozenset[str] = frozenset({
    "Long Term Support: Community: Home Support", "Long Term Support: Community: Direct Payment",
    "Long Term Support: Community: Supported Living", "Long Term Support: Residential",
    "Long Term Support: Nursing", "Short Term Support: ST-Max", "Short Term Support: Other Short Term Support",
})  # fmt: skip
#: Units of GP measurements (UCUM-style spellings as GP systems export them).
GP_UNITS: frozenset[str] = frozenset({
    "mmol/mol", "mmol/L", "mmHg", "kg/m2", "kg", "cm", "m", "%", "bpm", "mL/min/1.73m2", "umol/L", "g/L",
    "mg/L", "mg/mmol", "U/L", "ng/L", "ratio", "score",
})  # fmt: skip
