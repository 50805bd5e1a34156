"""Allow-lists: the columns the warehouse build reads from staged and ops parquet, and the names it
must never publish.

The staged (pseudonymised) schema of each source is derived from `connectors.spec`: every canonical
column not marked identifiable, plus the columns tracing and de-identification add. Only these columns
are read, cast to the type given here; anything else in a staged file is ignored, and a staged file
that still carries an identifying column fails the build.
"""

from __future__ import annotations

from connectors.spec import EXTRACTS

_DUCKDB_TYPES = {"str": "VARCHAR", "date": "DATE", "int": "BIGINT", "float": "DOUBLE"}

# Added to every staged record by connectors, linkage.trace and pseudonymisation.deidentify.
COMMON_COLUMNS: dict[str, str] = {
    "person_token": "VARCHAR",
    "link_method": "VARCHAR",
    "link_confidence": "DOUBLE",
    # No back-link to the landing row (pseudonymisation/lineage.py): the file's month and a row token
    # keyed under the lineage key, which only the identifiable zone holds.
    "source_month": "VARCHAR",
    "row_token": "VARCHAR",
    "load_id": "VARCHAR",
    "practice_shares_gp_data": "BOOLEAN",
}
# Generalised demographics that replace date_of_birth and postcode where a source carries them.
DEMOGRAPHIC_COLUMNS: dict[str, str] = {"birth_year_month": "VARCHAR", "lsoa21": "VARCHAR"}

# Never in any warehouse table (exact names), and never as part of a column name (substrings).
FORBIDDEN_COLUMNS: frozenset[str] = frozenset(
    {"nhs_number", "given_name", "middle_names", "family_name", "full_name", "name", "date_of_birth", "dob",
     "date_of_death", "postcode", "address", "telephone", "email", "la_person_id", "pseudo_key", "source_file",
     "source_line", "local_patient_id"}
)  # fmt: skip
FORBIDDEN_SUBSTRINGS: tuple[str, ...] = ("nhs_number", "postcode", "date_of_birth", "address", "given_name",
                                         "family_name")  # fmt: skip


def _staged_schema(source: str) -> dict[str, str]:
    extract = EXTRACTS[source]
    columns = {
        c.canonical: _DUCKDB_TYPES[c.dtype]
        for c in extract.columns
        if not c.identifiable and c.canonical not in FORBIDDEN_COLUMNS
    }
    if any(c.canonical == "date_of_birth" for c in extract.columns):
        columns.update(DEMOGRAPHIC_COLUMNS)
    if any(c.canonical == "date_of_death" for c in extract.columns):
        columns["death_year_month"] = "VARCHAR"  # deidentify generalises date_of_death to its month
    return {**columns, **COMMON_COLUMNS}


STAGED_COLUMNS: dict[str, dict[str, str]] = {source: _staged_schema(source) for source in EXTRACTS}

# Ops parquet under ops/<kind>/*.parquet, loaded as-is into operational tables (counts of records only,
# exact: no table of them gives a count of people by subtraction, since rows in is not published).
OPS_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "quarantine_summary": (
        "quarantine",
        {"source": "VARCHAR", "file": "VARCHAR", "month": "VARCHAR", "reason": "VARCHAR", "rows": "BIGINT"},
    ),
}  # fmt: skip

# Each file's books: the exact ones (ops/<BOOKS_OPS_KIND>/*.parquet: rows in, loaded, quarantined, opted
# out by route, excluded by reason) stay outside the warehouse and are checked there (rows in = loaded +
# quarantined + opted out + excluded) before publishing; `reconciliation` publishes the check's result,
# the records' counts, and the opted-out people as `opt_out_summary` publishes that cell
# (linkage/warehouse/books.py). Not rows in, nor opt-outs by route per file: with the loaded records
# (which the warehouse holds row by row) either would give a suppressed opt-out count by subtraction.
BOOKS_OPS_KIND = "reconciliation"
RECONCILIATION_TABLE: dict[str, str] = {
    "source": "VARCHAR", "file": "VARCHAR", "month": "VARCHAR", "loaded": "BIGINT", "quarantined": "BIGINT",
    "excluded": "BIGINT", "excluded_duplicate": "BIGINT", "excluded_practice_not_sharing": "BIGINT",
    "opted_out": "BIGINT", "opted_out_display": "VARCHAR", "opted_out_suppression": "VARCHAR",
    "books_balance": "BOOLEAN",
}  # fmt: skip

# Opt-out counts: the exact per-file counts (ops/<OPT_OUT_OPS_KIND>/*.parquet: source, file, month,
# practice_code, route, rows) stay outside the warehouse; the build publishes them coarsened and under
# disclosure control (linkage/warehouse/opt_outs.py): the ICS by source x month (every subtotal) and by
# route, and practice ⊂ PCN ⊂ place ⊂ ICS over the whole loaded period.
OPT_OUT_OPS_KIND = "opt_outs"
_PUBLISHED = {"rows": "BIGINT", "rows_display": "VARCHAR", "suppression": "VARCHAR"}
OPT_OUT_TABLES: dict[str, dict[str, str]] = {
    "opt_out_summary": {"source": "VARCHAR", "month": "VARCHAR", "route": "VARCHAR", **_PUBLISHED,
                        "total": "BOOLEAN"},
    "opt_out_by_area": {"level": "VARCHAR", "area": "VARCHAR", **_PUBLISHED, "first_month": "VARCHAR",
                        "last_month": "VARCHAR"},
}  # fmt: skip

# The load's inventory of landing (every entry, loaded or why not), under the ops folder; the build
# copies it into load_log.
LANDING_INVENTORY = "landing/inventory.parquet"

# Activity tables: the person's dates and codes per setting, each with the record's natural key. The key
# is the default for `unique` expectations (quality/config.py); the table list is what the warehouse
# checks (checks.py) and the coverage report (quality/coverage.py) go over. Rows are never dropped.
ACTIVITY_KEYS: dict[str, tuple[str, ...]] = {
    "gp_event": ("practice_code", "event_id"),
    "gp_medication": ("practice_code", "issue_id"),
    "apc_episode": ("provider_code", "episode_id"),
    "apc_spell": ("provider_code", "spell_id"),
    "ae_attendance": ("provider_code", "attendance_id"),
    "op_appointment": ("provider_code", "attendance_id"),
    "community_contact": ("provider_code", "contact_id"),
    "mh_referral": ("provider_code", "referral_id"),
    "mh_contact": ("provider_code", "contact_id"),
    "mh_spell": ("provider_code", "spell_id"),
    "asc_event": ("event_id",),
}
REFERENCE_TABLES: tuple[str, ...] = ("ref_practice", "ref_lsoa", "ref_codelist", "ref_ethnic_category")
# Data quality results, written into the building file by quality/ (through build_warehouse's
# before_publish hook); created empty when a build runs without the checks.
DQ_RESULTS_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR",
    "run_at": "TIMESTAMP",
    "asset": "VARCHAR",
    "expectation": "VARCHAR",
    "category": "VARCHAR",
    "kind": "VARCHAR",
    "engine": "VARCHAR",
    "rows_evaluated": "BIGINT",
    "rows_failed": "BIGINT",
    "pass_pct": "DOUBLE",
    "threshold": "DOUBLE",
    "severity": "VARCHAR",
    "outcome": "VARCHAR",
}
# Linkage rates by source, ethnic group and IMD quintile (linkage/linkage_quality.py), counts under
# disclosure control; written by the same hook, created empty otherwise.
LINKAGE_RATES_COLUMNS: dict[str, str] = {
    "dimension": "VARCHAR",
    "value": "VARCHAR",
    **{
        name: kind
        for count in (
            "records",
            "untraceable_on_arrival",
            "traced_exact",
            "traced_probabilistic",
            "traced_national",
            "clustered",
            "unmatched",
        )
        for name, kind in ((count, "BIGINT"), (f"{count}_display", "VARCHAR"))
    },
    "untraceable_on_arrival_pct": "DOUBLE",
    "exact_pct": "DOUBLE",
    "probabilistic_pct": "DOUBLE",
    "national_pct": "DOUBLE",
    "clustered_pct": "DOUBLE",
    "unmatched_pct": "DOUBLE",
    # Fairness: share of records linked to a person, and points below the best group of the dimension.
    "linked_pct": "DOUBLE",
    "linked_gap_pp": "DOUBLE",
}
OPERATIONAL_TABLES: tuple[str, ...] = (
    "load_log",
    "reconciliation",
    *OPS_TABLES,
    *OPT_OUT_TABLES,
    "dq_results",
    "linkage_rates",
)
TABLES: tuple[str, ...] = ("person", *ACTIVITY_KEYS, *REFERENCE_TABLES, *OPERATIONAL_TABLES)


# Columns (in order, with DuckDB types) of the tables the SQL scripts and the reference loader create:
# the data dictionary's column lists, and what the Dagster catalogue shows per table. The build is the
# truth; tests/integration/test_definitions.py checks these against an empty build, so they cannot drift.
BUILT_COLUMNS: dict[str, dict[str, str]] = {
    "person": {
        "person_token": "VARCHAR", "birth_year_month": "VARCHAR", "sex": "VARCHAR",
        "ethnic_category": "VARCHAR", "ethnic_group": "VARCHAR", "lsoa21": "VARCHAR",
        "imd_decile": "INTEGER", "place": "VARCHAR", "practice_code": "VARCHAR", "pcn_code": "VARCHAR",
        "practice_place": "VARCHAR", "registration_start": "DATE", "registration_end": "DATE",
        "death_month": "VARCHAR", "link_method": "VARCHAR", "link_confidence": "DOUBLE",
        "gp_data_shared": "BOOLEAN", "demographics_source": "VARCHAR", "in_gp": "BOOLEAN",
        "in_apc": "BOOLEAN", "in_ecds": "BOOLEAN", "in_outpatients": "BOOLEAN", "in_csds": "BOOLEAN",
        "in_mhsds": "BOOLEAN", "in_asc": "BOOLEAN",
    },
    "gp_event": {
        "person_token": "VARCHAR", "practice_code": "VARCHAR", "event_id": "VARCHAR", "event_date": "DATE",
        "snomed_code": "VARCHAR", "value": "DOUBLE", "unit": "VARCHAR", "source_month": "VARCHAR",
        "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "gp_medication": {
        "person_token": "VARCHAR", "practice_code": "VARCHAR", "issue_id": "VARCHAR", "issue_date": "DATE",
        "dmd_code": "VARCHAR", "quantity": "DOUBLE", "source_month": "VARCHAR", "row_token": "VARCHAR",
        "load_id": "VARCHAR",
    },
    "apc_episode": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "spell_id": "VARCHAR",
        "episode_id": "VARCHAR", "episode_order": "BIGINT", "admission_date": "DATE",
        "admission_method": "VARCHAR", "admission_source": "VARCHAR", "episode_start": "DATE",
        "episode_end": "DATE", "discharge_date": "DATE", "discharge_method": "VARCHAR",
        "diag_01": "VARCHAR", "diag_02": "VARCHAR", "diag_03": "VARCHAR", "diag_04": "VARCHAR",
        "opertn_01": "VARCHAR", "opertn_02": "VARCHAR", "opertn_03": "VARCHAR", "practice_code": "VARCHAR",
        "lsoa21": "VARCHAR", "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "apc_spell": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "spell_id": "VARCHAR",
        "admission_date": "DATE", "discharge_date": "DATE", "admission_method": "VARCHAR",
        "is_emergency": "BOOLEAN", "admission_source": "VARCHAR", "discharge_method": "VARCHAR",
        "primary_diagnosis": "VARCHAR", "episode_count": "BIGINT", "length_of_stay": "BIGINT",
        "practice_code": "VARCHAR", "lsoa21": "VARCHAR", "source_month": "VARCHAR", "load_id": "VARCHAR",
    },
    "ae_attendance": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "attendance_id": "VARCHAR",
        "arrival_date": "DATE", "arrival_time": "VARCHAR", "arrival_mode": "VARCHAR", "acuity": "VARCHAR",
        "chief_complaint": "VARCHAR", "diagnosis": "VARCHAR", "departure_date": "DATE",
        "discharge_destination": "VARCHAR", "practice_code": "VARCHAR", "lsoa21": "VARCHAR",
        "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "op_appointment": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "attendance_id": "VARCHAR",
        "appointment_date": "DATE", "attended": "VARCHAR", "is_attended": "BOOLEAN",
        "first_attendance": "VARCHAR", "treatment_specialty": "VARCHAR", "practice_code": "VARCHAR",
        "lsoa21": "VARCHAR", "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "community_contact": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "referral_id": "VARCHAR",
        "referral_date": "DATE", "team_type": "VARCHAR", "contact_id": "VARCHAR", "contact_date": "DATE",
        "attended": "VARCHAR", "is_attended": "BOOLEAN", "practice_code": "VARCHAR", "lsoa21": "VARCHAR",
        "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "mh_referral": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "referral_id": "VARCHAR",
        "referral_date": "DATE", "closure_date": "DATE", "team_type": "VARCHAR",
        "primary_diagnosis": "VARCHAR", "practice_code": "VARCHAR", "lsoa21": "VARCHAR",
        "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "mh_contact": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "contact_id": "VARCHAR",
        "referral_id": "VARCHAR", "contact_date": "DATE", "team_type": "VARCHAR",
        "practice_code": "VARCHAR", "lsoa21": "VARCHAR", "source_month": "VARCHAR", "row_token": "VARCHAR",
        "load_id": "VARCHAR",
    },
    "mh_spell": {
        "person_token": "VARCHAR", "provider_code": "VARCHAR", "spell_id": "VARCHAR",
        "referral_id": "VARCHAR", "start_date": "DATE", "end_date": "DATE", "length_of_stay": "BIGINT",
        "team_type": "VARCHAR", "primary_diagnosis": "VARCHAR", "practice_code": "VARCHAR",
        "lsoa21": "VARCHAR", "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "asc_event": {
        "person_token": "VARCHAR", "event_id": "VARCHAR", "event_type": "VARCHAR", "event_start": "DATE",
        "event_end": "DATE", "support_reason": "VARCHAR", "service_type": "VARCHAR", "lsoa21": "VARCHAR",
        "source_month": "VARCHAR", "row_token": "VARCHAR", "load_id": "VARCHAR",
    },
    "ref_practice": {
        "practice_code": "VARCHAR", "practice_name": "VARCHAR", "pcn_code": "VARCHAR",
        "pcn_name": "VARCHAR", "place": "VARCHAR", "shares_gp_data": "BOOLEAN",
    },
    "ref_lsoa": {
        "lsoa21": "VARCHAR", "lsoa_name": "VARCHAR", "imd_decile": "INTEGER", "place": "VARCHAR",
    },
    "ref_codelist": {
        "codelist": "VARCHAR", "code": "VARCHAR", "term": "VARCHAR",
    },
    "ref_ethnic_category": {
        "ethnic_category": "VARCHAR", "description": "VARCHAR", "ethnic_group": "VARCHAR",
    },
    "load_log": {
        "load_id": "VARCHAR", "built_at": "TIMESTAMP", "table_name": "VARCHAR", "rows": "BIGINT",
        "landing_entry": "VARCHAR", "status": "VARCHAR", "reason": "VARCHAR",
    },
}  # fmt: skip


def table_columns() -> dict[str, dict[str, str]]:
    """Every published table (`TABLES`, in order) -> its columns and DuckDB types."""
    declared = {
        **BUILT_COLUMNS,
        "reconciliation": RECONCILIATION_TABLE,
        **{table: schema for table, (_kind, schema) in OPS_TABLES.items()},
        **OPT_OUT_TABLES,
        "dq_results": DQ_RESULTS_COLUMNS,
        "linkage_rates": LINKAGE_RATES_COLUMNS,
    }
    return {table: dict(declared[table]) for table in TABLES}
