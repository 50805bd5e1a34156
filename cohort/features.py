"""The person-level features table that cohort definitions filter on (one row per person_token).

`cohort.features_sql.build_features` builds it from the warehouse; this is its contract. Cohort definitions may
name any column here except `person_token` (see `definitions.compile`), and `compile` binds criterion
values, so a value's Python type must suit the column's DuckDB type.
"""

from __future__ import annotations

from cohort.segments import SEGMENTS

# column -> DuckDB type; all as at the cohort's as-of date.
FEATURE_COLUMNS: dict[str, str] = {
    "person_token": "VARCHAR",  # pseudonymised person key
    "practice_code": "VARCHAR",  # registered practice (ODS code)
    "registered": "BOOLEAN",  # currently registered with a practice in the ICS
    "alive": "BOOLEAN",  # no death recorded
    "age": "INTEGER",  # completed years, from birth year-month
    "sex": "VARCHAR",
    "imd_decile": "INTEGER",  # 1 = most deprived
    "ethnic_group": "VARCHAR",  # top-level ethnic category
    "gp_data_shared": "BOOLEAN",  # false: the practice does not share GP data, GP-derived features are 0
    "efi_deficits": "INTEGER",  # eFI deficits present, 0-36 (cohort.frailty)
    "frailty_score": "DOUBLE",  # efi_deficits / 36
    "frailty_category": "VARCHAR",  # fit, mild, moderate, severe
    "ltc_count": "INTEGER",  # number of long-term conditions
    "has_asthma": "BOOLEAN",
    "has_atrial_fibrillation": "BOOLEAN",
    "has_cancer": "BOOLEAN",
    "has_chd": "BOOLEAN",
    "has_ckd": "BOOLEAN",
    "has_copd": "BOOLEAN",
    "has_dementia": "BOOLEAN",
    "has_depression": "BOOLEAN",
    "has_diabetes": "BOOLEAN",
    "has_epilepsy": "BOOLEAN",
    "has_heart_failure": "BOOLEAN",
    "has_hypertension": "BOOLEAN",
    "has_learning_disability": "BOOLEAN",
    "has_osteoporosis": "BOOLEAN",
    "has_rheumatoid_arthritis": "BOOLEAN",
    "has_smi": "BOOLEAN",  # serious mental illness
    "has_stroke": "BOOLEAN",
    "medications_12m": "INTEGER",  # distinct medicines issued in 12 months
    "medications_6m": "INTEGER",  # distinct medicines (dm+d codes) issued in 6 months
    "polypharmacy": "BOOLEAN",  # medications_6m >= 10
    "gp_contacts_6m": "INTEGER",
    "gp_contacts_12m": "INTEGER",
    "ae_6m": "INTEGER",
    "ae_12m": "INTEGER",
    "emergency_admissions_12m": "INTEGER",
    "elective_admissions_12m": "INTEGER",
    "bed_days_12m": "INTEGER",  # days in hospital (admissions in 12 months, up to the as-of date)
    "maternity_12m": "BOOLEAN",  # maternity admission (ADMIMETH 31-32) in 12 months
    "op_appointments_12m": "INTEGER",
    "community_contacts_12m": "INTEGER",
    "mh_contacts_12m": "INTEGER",
    "asc_involved": "BOOLEAN",  # social care request, assessment or service in 12 months
    "asc_events_12m": "INTEGER",  # social care events starting in 12 months
    "asc_long_term_support": "BOOLEAN",  # a long-term social care service open at the as-of date
    "risk_score": "DOUBLE",  # predicted probability of emergency admission in 12 months
    "risk_tier": "VARCHAR",  # very high, high, moderate, low (Kaiser pyramid)
    "segment": "VARCHAR",  # Bridges to Health segment
}

# Columns whose values come from a fixed vocabulary: criteria using other values are rejected.
FEATURE_VALUES: dict[str, tuple[str, ...]] = {
    "frailty_category": ("fit", "mild", "moderate", "severe"),
    "risk_tier": ("very high", "high", "moderate", "low"),
    "segment": SEGMENTS,
}

# Features a definition may name by default: everything but the person key.
DEFAULT_ALLOWED_FEATURES: frozenset[str] = frozenset(FEATURE_COLUMNS) - {"person_token"}
