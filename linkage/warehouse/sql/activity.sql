-- Activity by setting, one table per kind of record. Reads the stg_<source> temp views (allow-listed,
-- typed staged columns). Every row keeps person_token, its dates and codes, source_month, row_token
-- and load_id: no landing path, line or raw provider id (ids arrive as keyed tokens, see
-- pseudonymisation/lineage.py), so no column locates the identifiable landing row. Rows are never deduplicated here: the warehouse is rebuilt from the staged files, so a
-- re-run month replaces its rows.

CREATE TABLE gp_event AS
SELECT person_token, practice_code, event_id, event_date, snomed_code, value, unit,
       source_month, row_token, load_id
FROM stg_gp_events;

CREATE TABLE gp_medication AS
SELECT person_token, practice_code, issue_id, issue_date, dmd_code, quantity,
       source_month, row_token, load_id
FROM stg_gp_medications;

CREATE TABLE apc_episode AS
SELECT person_token, provider_code, spell_id, episode_id, episode_order,
       admission_date, admission_method, admission_source, episode_start, episode_end,
       discharge_date, discharge_method,
       diag_01, diag_02, diag_03, diag_04, opertn_01, opertn_02, opertn_03,
       practice_code, lsoa21, source_month, row_token, load_id
FROM stg_apc;

-- One row per hospital stay (provider + SUSSPELLID). "First episode" = lowest episode_order, then
-- earliest episode_start; arg_*_null keeps a null of the chosen episode rather than borrowing another's.
CREATE TABLE apc_spell AS
WITH ordered AS (
    SELECT *, {'o': coalesce(episode_order, 2147483647), 's': episode_start, 'e': episode_id} AS ord
    FROM stg_apc
)
SELECT arg_min_null(person_token, ord) AS person_token,
       provider_code,
       spell_id,
       min(admission_date) AS admission_date,
       max(discharge_date) AS discharge_date,
       arg_min_null(admission_method, ord) AS admission_method,
       arg_min_null(admission_method, ord) LIKE '2%' AS is_emergency,
       arg_min_null(admission_source, ord) AS admission_source,
       arg_max_null(discharge_method, ord) AS discharge_method,
       arg_min_null(diag_01, ord) AS primary_diagnosis,
       count(*) AS episode_count,
       date_diff('day', min(admission_date), max(discharge_date)) AS length_of_stay,
       arg_max_null(practice_code, ord) AS practice_code,
       arg_max_null(lsoa21, ord) AS lsoa21,
       arg_max_null(source_month, ord) AS source_month,
       arg_max_null(load_id, ord) AS load_id
FROM ordered
GROUP BY provider_code, spell_id;

CREATE TABLE ae_attendance AS
SELECT person_token, provider_code, attendance_id, arrival_date, arrival_time, arrival_mode, acuity,
       chief_complaint, diagnosis, departure_date, discharge_destination,
       practice_code, lsoa21, source_month, row_token, load_id
FROM stg_ecds;

CREATE TABLE op_appointment AS
SELECT person_token, provider_code, attendance_id, appointment_date, attended,
       attended IN ('5', '6') AS is_attended, first_attendance, treatment_specialty,
       practice_code, lsoa21, source_month, row_token, load_id
FROM stg_outpatients;

CREATE TABLE community_contact AS
SELECT person_token, provider_code, referral_id, referral_date, team_type, contact_id, contact_date,
       attended, attended IN ('5', '6') AS is_attended,
       practice_code, lsoa21, source_month, row_token, load_id
FROM stg_csds;

CREATE TABLE mh_referral AS
SELECT person_token, provider_code, referral_id, start_date AS referral_date, end_date AS closure_date,
       team_type, primary_diagnosis, practice_code, lsoa21, source_month, row_token, load_id
FROM stg_mhsds
WHERE upper(trim(record_type)) = 'REFERRAL';

CREATE TABLE mh_contact AS
SELECT person_token, provider_code, record_id AS contact_id, referral_id, start_date AS contact_date,
       team_type, practice_code, lsoa21, source_month, row_token, load_id
FROM stg_mhsds
WHERE upper(trim(record_type)) = 'CONTACT';

CREATE TABLE mh_spell AS
SELECT person_token, provider_code, record_id AS spell_id, referral_id, start_date, end_date,
       date_diff('day', start_date, end_date) AS length_of_stay, team_type, primary_diagnosis,
       practice_code, lsoa21, source_month, row_token, load_id
FROM stg_mhsds
WHERE upper(trim(record_type)) = 'SPELL';

CREATE TABLE asc_event AS
SELECT person_token, event_id, lower(trim(event_type)) AS event_type, event_start, event_end,
       support_reason, service_type, lsoa21, source_month, row_token, load_id
FROM stg_asc_cld;
