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
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
    "load_id": "VARCHAR",
    "practice_shares_gp_data": "BOOLEAN",
}
# Generalised demographics that replace date_of_birth and postcode where a source carries them.
DEMOGRAPHIC_COLUMNS: dict[str, str] = {"birth_year_month": "VARCHAR", "lsoa21": "VARCHAR"}

# Never in any warehouse table (exact names), and never as part of a column name (substrings).
FORBIDDEN_COLUMNS: frozenset[str] = frozenset(
    {"nhs_number", "given_name", "middle_names", "family_name", "full_name", "name", "date_of_birth", "dob",
     "date_of_death", "postcode", "address", "telephone", "email", "la_person_id", "pseudo_key"}
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

# Ops parquet under ops/<kind>/*.parquet, loaded as-is into operational tables (counts only).
OPS_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "reconciliation": (
        "reconciliation",
        {"source": "VARCHAR", "file": "VARCHAR", "month": "VARCHAR", "rows_in": "BIGINT", "loaded": "BIGINT",
         "quarantined": "BIGINT", "opted_out": "BIGINT", "excluded": "BIGINT",
         "opted_out_ndoo": "BIGINT", "opted_out_type1": "BIGINT", "excluded_duplicate": "BIGINT",
         "excluded_practice_not_sharing": "BIGINT"},
    ),
    "quarantine_summary": (
        "quarantine",
        {"source": "VARCHAR", "file": "VARCHAR", "month": "VARCHAR", "reason": "VARCHAR", "rows": "BIGINT"},
    ),
    "opt_out_summary": (
        "opt_outs",
        {"source": "VARCHAR", "file": "VARCHAR", "month": "VARCHAR", "practice_code": "VARCHAR",
         "route": "VARCHAR", "rows": "BIGINT"},
    ),
}  # fmt: skip

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
            "unmatched",
        )
        for name, kind in ((count, "BIGINT"), (f"{count}_display", "VARCHAR"))
    },
    "untraceable_on_arrival_pct": "DOUBLE",
    "exact_pct": "DOUBLE",
    "probabilistic_pct": "DOUBLE",
    "unmatched_pct": "DOUBLE",
}
OPERATIONAL_TABLES: tuple[str, ...] = ("load_log", *OPS_TABLES, "dq_results", "linkage_rates")
TABLES: tuple[str, ...] = ("person", *ACTIVITY_KEYS, *REFERENCE_TABLES, *OPERATIONAL_TABLES)
