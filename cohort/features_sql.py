"""Build the person-level `features` table (`cohort.features.FEATURE_COLUMNS`) in DuckDB SQL, as at a date.

One row per person in the warehouse `person` table born by the as-of date; tokens only, no dates of
birth, no row values beyond counts and flags. Everything is computed from activity dated on or before
`as_of` (a bound parameter), so the same function gives the model's training features (as at t - 12
months) and its scoring features (as at t) without ever looking at the outcome window.

Rules (see docs/risk_model.md for the reasoning):

* **Windows** run from `as_of - n months` to `as_of`, both inclusive — the same convention as
  `cohort.definitions.compile`, so a feature `ae_6m` and a criterion `events: ae, within_months: 6`
  count the same attendances.
* **Long-term conditions** are "ever recorded up to as_of": a code from the condition's SNOMED list in
  `gp_event`, or from its ICD-10 list in any APC episode diagnosis or a mental health referral/spell
  primary diagnosis. A condition's lists are the codelists named `<condition>`, `<condition>_snomed`
  and `<condition>_icd10` (`LTC_CODELISTS`).
* **eFI deficits** are ever recorded up to as_of, from the deficit code lists (`efi_deficit_codes`).
* **GP contacts** are distinct days with a consultation code (codelists `gp_consultation*`); without
  such a list, distinct days with any GP event.
* **Polypharmacy**: 10 or more distinct dm+d codes issued in the 6 months to as_of.
* A table missing from the warehouse counts as no activity (the feature is 0 or false, not null).
* `risk_score`, `risk_tier` and `segment` are null here; `attach_scores` fills them after scoring.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from cohort.features import FEATURE_COLUMNS
from cohort.frailty import EFI_CATEGORY_SQL, EFI_SCORE_SQL

CODELISTS_DIR = Path(__file__).resolve().parents[1] / "codelists"

# feature suffix (has_<name>) -> codelist base name
LTC_CODELISTS: dict[str, str] = {
    "asthma": "asthma",
    "atrial_fibrillation": "atrial_fibrillation",
    "cancer": "cancer",
    "chd": "chd",
    "ckd": "ckd",
    "copd": "copd",
    "dementia": "dementia",
    "depression": "depression",
    "diabetes": "diabetes",
    "epilepsy": "epilepsy",
    "heart_failure": "heart_failure",
    "hypertension": "hypertension",
    "learning_disability": "learning_disability",
    "osteoporosis": "osteoporosis",
    "rheumatoid_arthritis": "rheumatoid_arthritis",
    "smi": "smi",
    "stroke": "stroke_tia",
}
POLYPHARMACY_MIN = 10  # distinct dm+d codes in POLYPHARMACY_MONTHS
POLYPHARMACY_MONTHS = 6
GP_CONSULTATION_PREFIX = "gp_consultation"
EFI_CODELIST = "efi_deficits"
MATERNITY_METHODS = ("31", "32")  # ADMIMETH maternity (ante-/post-partum)

# Activity tables the features read, with the columns they need (a missing table reads as empty).
_SOURCES: dict[str, dict[str, str]] = {
    "person": {
        "person_token": "VARCHAR", "birth_year_month": "VARCHAR", "sex": "VARCHAR", "ethnic_group": "VARCHAR",
        "imd_decile": "INTEGER", "practice_code": "VARCHAR", "registration_start": "DATE",
        "registration_end": "DATE", "death_month": "VARCHAR", "gp_data_shared": "BOOLEAN",
    },
    "gp_event": {"person_token": "VARCHAR", "event_date": "DATE", "snomed_code": "VARCHAR"},
    "gp_medication": {"person_token": "VARCHAR", "issue_date": "DATE", "dmd_code": "VARCHAR"},
    "apc_episode": {
        "person_token": "VARCHAR", "admission_date": "DATE", "diag_01": "VARCHAR", "diag_02": "VARCHAR",
        "diag_03": "VARCHAR", "diag_04": "VARCHAR",
    },
    "apc_spell": {
        "person_token": "VARCHAR", "admission_date": "DATE", "discharge_date": "DATE",
        "admission_method": "VARCHAR", "is_emergency": "BOOLEAN",
    },
    "ae_attendance": {"person_token": "VARCHAR", "arrival_date": "DATE"},
    "op_appointment": {"person_token": "VARCHAR", "appointment_date": "DATE"},
    "community_contact": {"person_token": "VARCHAR", "contact_date": "DATE"},
    "mh_referral": {"person_token": "VARCHAR", "referral_date": "DATE", "primary_diagnosis": "VARCHAR"},
    "mh_contact": {"person_token": "VARCHAR", "contact_date": "DATE"},
    "mh_spell": {"person_token": "VARCHAR", "start_date": "DATE", "primary_diagnosis": "VARCHAR"},
    "asc_event": {
        "person_token": "VARCHAR", "event_type": "VARCHAR", "event_start": "DATE", "event_end": "DATE",
        "service_type": "VARCHAR",
    },
    "ref_codelist": {"codelist": "VARCHAR", "code": "VARCHAR", "term": "VARCHAR"},
}  # fmt: skip


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    return {r[0] for r in rows}


def _source_ctes(con: duckdb.DuckDBPyConnection) -> str:
    """`src_<table>` CTEs: the real table, or a typed empty relation when the warehouse lacks it."""
    present = _existing_tables(con)
    ctes = []
    for table, columns in _SOURCES.items():
        if table in present:
            body = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 (identifiers from the constant above)
        else:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items())
            body = f"SELECT {cols} WHERE false"
        ctes.append(f"src_{table} AS ({body})")
    return ",\n".join(ctes)


def efi_deficit_codes(
    con: duckdb.DuckDBPyConnection, codelists_dir: Path | None = CODELISTS_DIR
) -> pl.DataFrame:
    """(deficit, code) for the eFI, from the first source that has the deficit names:

    1. `ref_codelist` rows of codelist `efi_deficits` with a `deficit` column (if the warehouse keeps it);
    2. codelists named `efi_<deficit>` in `ref_codelist` (one file per deficit);
    3. the shipped `codelists/efi_deficits.csv` (code, term, deficit) — the warehouse keeps code and term
       only, so the deficit names come from the file the codes were loaded from.
    Returns an empty frame if none has them (every eFI count is then 0).
    """
    empty = pl.DataFrame(schema={"deficit": pl.String, "code": pl.String})
    if "ref_codelist" in _existing_tables(con):
        columns = {r[0] for r in con.sql("DESCRIBE ref_codelist").fetchall()}
        if "deficit" in columns:
            frame = con.sql(
                "SELECT DISTINCT deficit, code FROM ref_codelist WHERE codelist = 'efi_deficits' "
                "AND deficit IS NOT NULL"
            ).pl()
            if frame.height:
                return frame
        frame = con.sql(
            "SELECT DISTINCT substr(codelist, 5) AS deficit, code FROM ref_codelist "
            "WHERE codelist LIKE 'efi\\_%' ESCAPE '\\' AND codelist <> 'efi_deficits'"
        ).pl()
        if frame.height:
            return frame
    path = None if codelists_dir is None else codelists_dir / f"{EFI_CODELIST}.csv"
    if path is None or not path.exists():
        return empty
    with path.open(newline="") as f:
        rows = [
            (r["deficit"].strip(), r["code"].strip())
            for r in csv.DictReader(f)
            if r.get("deficit") and r.get("code")
        ]
    return pl.DataFrame(rows, schema=empty.schema, orient="row").unique()


def _ltc_codes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(condition, code) from ref_codelist for every LTC list present (any of its three names)."""
    names = pl.DataFrame(
        [
            (cond, f"{base}{suffix}")
            for cond, base in LTC_CODELISTS.items()
            for suffix in ("", "_snomed", "_icd10")
        ],
        schema={"condition": pl.String, "codelist": pl.String},
        orient="row",
    )
    if "ref_codelist" not in _existing_tables(con):
        return pl.DataFrame(schema={"condition": pl.String, "code": pl.String})
    codes = con.sql("SELECT codelist, code FROM ref_codelist WHERE code IS NOT NULL").pl()
    return codes.join(names, on="codelist").select("condition", "code").unique()


def _consultation_codes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    if "ref_codelist" not in _existing_tables(con):
        return None
    frame = con.sql(
        "SELECT DISTINCT code FROM ref_codelist WHERE starts_with(codelist, ?)",
        params=[GP_CONSULTATION_PREFIX],
    ).pl()
    return frame if frame.height else None


def _sql(consultation_list: bool) -> str:
    """The features query. Only constant identifiers are formatted in; the date and numbers are bound."""
    ltc_cols = ",\n    ".join(f"coalesce(l.has_{c}, false) AS has_{c}" for c in LTC_CODELISTS)
    ltc_aggs = ",\n      ".join(f"bool_or(condition = '{c}') AS has_{c}" for c in LTC_CODELISTS)
    gp_contact_filter = (
        "e.snomed_code IN (SELECT code FROM _phm_consultation_codes)" if consultation_list else "true"
    )
    maternity = ", ".join(f"'{m}'" for m in MATERNITY_METHODS)
    return f"""
WITH {{sources}},
pop AS (
  SELECT p.*, CAST(strptime(p.birth_year_month || '-01', '%Y-%m-%d') AS DATE) AS birth_month_start
  FROM src_person AS p
  WHERE p.birth_year_month IS NULL OR p.birth_year_month <= strftime($as_of, '%Y-%m')
),
icd AS (
  SELECT person_token, unnest([diag_01, diag_02, diag_03, diag_04]) AS code
  FROM src_apc_episode WHERE admission_date <= $as_of
  UNION ALL SELECT person_token, primary_diagnosis FROM src_mh_referral WHERE referral_date <= $as_of
  UNION ALL SELECT person_token, primary_diagnosis FROM src_mh_spell WHERE start_date <= $as_of
),
coded AS (
  SELECT person_token, snomed_code AS code FROM src_gp_event WHERE event_date <= $as_of
  UNION ALL SELECT person_token, code FROM icd WHERE code IS NOT NULL AND code <> ''
),
ltc AS (
  SELECT person_token, count(DISTINCT condition) AS ltc_count,
      {ltc_aggs}
  FROM (SELECT DISTINCT c.person_token, m.condition FROM coded AS c JOIN _phm_ltc_codes AS m ON m.code = c.code)
  GROUP BY person_token
),
efi AS (
  SELECT e.person_token, count(DISTINCT m.deficit) AS efi_deficits
  FROM src_gp_event AS e JOIN _phm_efi_codes AS m ON m.code = e.snomed_code
  WHERE e.event_date <= $as_of
  GROUP BY e.person_token
),
meds AS (
  SELECT person_token,
    count(DISTINCT dmd_code) AS medications_12m,
    count(DISTINCT dmd_code) FILTER (WHERE issue_date >= $as_of - to_months($poly_months)) AS medications_6m
  FROM src_gp_medication
  WHERE issue_date <= $as_of AND issue_date >= $as_of - to_months(12)
  GROUP BY person_token
),
gp AS (
  SELECT person_token,
    count(DISTINCT event_date) AS gp_contacts_12m,
    count(DISTINCT event_date) FILTER (WHERE event_date >= $as_of - to_months(6)) AS gp_contacts_6m
  FROM src_gp_event AS e
  WHERE event_date <= $as_of AND event_date >= $as_of - to_months(12) AND {gp_contact_filter}
  GROUP BY person_token
),
apc AS (
  SELECT person_token,
    count(*) FILTER (WHERE is_emergency) AS emergency_admissions_12m,
    count(*) FILTER (WHERE starts_with(admission_method, '1')) AS elective_admissions_12m,
    sum(date_diff('day', admission_date, least(coalesce(discharge_date, $as_of), $as_of))) AS bed_days_12m,
    bool_or(admission_method IN ({maternity})) AS maternity_12m
  FROM src_apc_spell
  WHERE admission_date <= $as_of AND admission_date >= $as_of - to_months(12)
  GROUP BY person_token
),
ae AS (
  SELECT person_token, count(*) AS ae_12m,
    count(*) FILTER (WHERE arrival_date >= $as_of - to_months(6)) AS ae_6m
  FROM src_ae_attendance
  WHERE arrival_date <= $as_of AND arrival_date >= $as_of - to_months(12)
  GROUP BY person_token
),
op AS (
  SELECT person_token, count(*) AS op_appointments_12m FROM src_op_appointment
  WHERE appointment_date <= $as_of AND appointment_date >= $as_of - to_months(12) GROUP BY person_token
),
community AS (
  SELECT person_token, count(*) AS community_contacts_12m FROM src_community_contact
  WHERE contact_date <= $as_of AND contact_date >= $as_of - to_months(12) GROUP BY person_token
),
mh AS (
  SELECT person_token, count(*) AS mh_contacts_12m FROM src_mh_contact
  WHERE contact_date <= $as_of AND contact_date >= $as_of - to_months(12) GROUP BY person_token
),
asc_ AS (
  SELECT person_token,
    count(*) FILTER (WHERE event_start >= $as_of - to_months(12)) AS asc_events_12m,
    bool_or(event_type = 'service' AND starts_with(service_type, 'Long Term')
            AND coalesce(event_end, $as_of) >= $as_of) AS asc_long_term_support
  FROM src_asc_event
  WHERE event_start <= $as_of AND coalesce(event_end, $as_of) >= $as_of - to_months(12)
  GROUP BY person_token
),
joined AS (
  SELECT
    p.person_token,
    p.practice_code,
    (p.practice_code IS NOT NULL AND coalesce(p.registration_start <= $as_of, true)
      AND coalesce(p.registration_end > $as_of, true)) AS registered,
    (p.death_month IS NULL OR p.death_month > strftime($as_of, '%Y-%m')) AS alive,
    CAST(date_diff('month', p.birth_month_start, date_trunc('month', $as_of)) // 12 AS INTEGER) AS age,
    p.sex,
    p.imd_decile,
    p.ethnic_group,
    p.gp_data_shared,
    CAST(coalesce(f.efi_deficits, 0) AS INTEGER) AS efi_deficits,
    CAST(coalesce(l.ltc_count, 0) AS INTEGER) AS ltc_count,
    {ltc_cols},
    CAST(coalesce(m.medications_12m, 0) AS INTEGER) AS medications_12m,
    CAST(coalesce(m.medications_6m, 0) AS INTEGER) AS medications_6m,
    coalesce(m.medications_6m, 0) >= $poly_min AS polypharmacy,
    CAST(coalesce(g.gp_contacts_6m, 0) AS INTEGER) AS gp_contacts_6m,
    CAST(coalesce(g.gp_contacts_12m, 0) AS INTEGER) AS gp_contacts_12m,
    CAST(coalesce(ae.ae_6m, 0) AS INTEGER) AS ae_6m,
    CAST(coalesce(ae.ae_12m, 0) AS INTEGER) AS ae_12m,
    CAST(coalesce(a.emergency_admissions_12m, 0) AS INTEGER) AS emergency_admissions_12m,
    CAST(coalesce(a.elective_admissions_12m, 0) AS INTEGER) AS elective_admissions_12m,
    CAST(coalesce(a.bed_days_12m, 0) AS INTEGER) AS bed_days_12m,
    coalesce(a.maternity_12m, false) AS maternity_12m,
    CAST(coalesce(o.op_appointments_12m, 0) AS INTEGER) AS op_appointments_12m,
    CAST(coalesce(c.community_contacts_12m, 0) AS INTEGER) AS community_contacts_12m,
    CAST(coalesce(mh.mh_contacts_12m, 0) AS INTEGER) AS mh_contacts_12m,
    CAST(coalesce(s.asc_events_12m, 0) AS INTEGER) AS asc_events_12m,
    s.person_token IS NOT NULL AS asc_involved,
    coalesce(s.asc_long_term_support, false) AS asc_long_term_support
  FROM pop AS p
  LEFT JOIN ltc AS l USING (person_token)
  LEFT JOIN efi AS f USING (person_token)
  LEFT JOIN meds AS m USING (person_token)
  LEFT JOIN gp AS g USING (person_token)
  LEFT JOIN apc AS a USING (person_token)
  LEFT JOIN ae USING (person_token)
  LEFT JOIN op AS o USING (person_token)
  LEFT JOIN community AS c USING (person_token)
  LEFT JOIN mh USING (person_token)
  LEFT JOIN asc_ AS s USING (person_token)
)
SELECT *, {EFI_SCORE_SQL} AS frailty_score, {EFI_CATEGORY_SQL} AS frailty_category,
  CAST(NULL AS DOUBLE) AS risk_score, CAST(NULL AS VARCHAR) AS risk_tier, CAST(NULL AS VARCHAR) AS segment
FROM joined
"""  # noqa: S608 (constant identifiers only; the date and numbers are bound)


def _column_list() -> str:
    return ", ".join(f'"{c}"' for c in FEATURE_COLUMNS)


def features_query(
    con: duckdb.DuckDBPyConnection, as_of: date, *, codelists_dir: Path | None = CODELISTS_DIR
) -> tuple[str, dict[str, object]]:
    """The SELECT for the features as at `as_of` (columns in FEATURE_COLUMNS order) and its parameters.

    Registers the helper code tables `_phm_ltc_codes`, `_phm_efi_codes` (and `_phm_consultation_codes`)
    on `con`; they must stay registered while the query runs.
    """
    con.register("_phm_ltc_codes", _ltc_codes(con))
    con.register("_phm_efi_codes", efi_deficit_codes(con, codelists_dir))
    consultation = _consultation_codes(con)
    if consultation is not None:
        con.register("_phm_consultation_codes", consultation)
    body = _sql(consultation is not None).replace("{sources}", _source_ctes(con))
    query = f"SELECT {_column_list()} FROM ({body}) ORDER BY person_token"  # noqa: S608 (constant identifiers)
    params: dict[str, object] = {
        "as_of": as_of,
        "poly_months": POLYPHARMACY_MONTHS,
        "poly_min": POLYPHARMACY_MIN,
    }
    return query, params


def compute_features(
    con: duckdb.DuckDBPyConnection, as_of: date, *, codelists_dir: Path | None = CODELISTS_DIR
) -> pl.DataFrame:
    """The features as at `as_of` as a polars frame (one row per person, FEATURE_COLUMNS)."""
    query, params = features_query(con, as_of, codelists_dir=codelists_dir)
    return con.sql(query, params=params).pl()


def build_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    table: str = "features",
    codelists_dir: Path | None = CODELISTS_DIR,
) -> int:
    """Create (or replace) `table` on `con` with the features as at `as_of`; returns its row count.

    `con` must be writable (e.g. an analysis database that ATTACHes the warehouse read-only and sets
    it as the default catalog is fine: pass a schema-qualified `table`).
    """
    if not table.replace(".", "_").isidentifier():
        raise ValueError(f"not a plain table name: {table!r}")
    query, params = features_query(con, as_of, codelists_dir=codelists_dir)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}", params)
    row = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0]  # noqa: S608 (checked identifier)
    return int(row[0])


def attach_scores(features: pl.DataFrame, scored: pl.DataFrame) -> pl.DataFrame:
    """Features with `risk_score`, `risk_tier` and `segment` taken from `scored` (by person_token).

    People absent from `scored` (e.g. not alive at the as-of date) keep nulls.
    """
    wanted = [c for c in ("risk_score", "risk_tier", "segment") if c in scored.columns]
    base = features.drop(wanted)
    out = base.join(scored.select("person_token", *wanted), on="person_token", how="left")
    return out.select(list(FEATURE_COLUMNS))
