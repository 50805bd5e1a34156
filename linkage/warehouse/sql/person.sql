-- One row per person_token seen in any staged source (GP or not). Demographics come from the latest GP
-- patient row (the GP master); otherwise each field is the most recent known value across secondary
-- care and social care records.

CREATE TEMP TABLE _rec AS
SELECT 'gp' AS src, person_token, extract_date AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, practice_code
FROM stg_gp_patients
UNION ALL BY NAME
-- Coded events only tell us the person is in GP data: pre-aggregate (tens of millions of rows).
SELECT 'gp' AS src, person_token, link_method, max(link_confidence) AS link_confidence,
       bool_or(practice_shares_gp_data) AS practice_shares_gp_data
FROM stg_gp_events
GROUP BY person_token, link_method
UNION ALL BY NAME
-- Coded events only tell us the person is in GP data: pre-aggregate (tens of millions of rows).
SELECT 'gp' AS src, person_token, link_method, max(link_confidence) AS link_confidence,
       bool_or(practice_shares_gp_data) AS practice_shares_gp_data
FROM stg_gp_medications
GROUP BY person_token, link_method
UNION ALL BY NAME
SELECT 'apc' AS src, person_token, episode_start AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, practice_code
FROM stg_apc
UNION ALL BY NAME
SELECT 'ecds' AS src, person_token, arrival_date AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, practice_code
FROM stg_ecds
UNION ALL BY NAME
SELECT 'outpatients' AS src, person_token, appointment_date AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, practice_code
FROM stg_outpatients
UNION ALL BY NAME
SELECT 'csds' AS src, person_token, contact_date AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, practice_code
FROM stg_csds
UNION ALL BY NAME
SELECT 'mhsds' AS src, person_token, start_date AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, practice_code
FROM stg_mhsds
UNION ALL BY NAME
SELECT 'asc' AS src, person_token, event_start AS activity_date, source_month, row_token,
       link_method, link_confidence, practice_shares_gp_data,
       birth_year_month, sex, ethnic_category, lsoa21, NULL AS practice_code
FROM stg_asc_cld;

CREATE TEMP TABLE _gp AS
SELECT person_token, birth_year_month, sex, ethnic_category, lsoa21, practice_code,
       registration_start, registration_end, death_year_month AS death_month
FROM stg_gp_patients
QUALIFY row_number() OVER (
    PARTITION BY person_token ORDER BY extract_date DESC, source_month DESC, row_token DESC) = 1;

-- "Latest" = by activity date, then the file's month, then the keyed row token (a fixed tie-break: the
-- warehouse keeps no landing line to order by), packed into one BIGINT, because arg_max over a struct
-- key costs twice as much at this size. Months are ranked in order; dates count days from 1900 (16
-- bits, to 2079; an undated record ranks oldest); the row token's hash takes the low 31 bits.
CREATE TEMP TABLE _file_rank AS
SELECT source_month,
       CASE WHEN n > 65535 THEN error('more than 65,535 staged months: the person ordering key would overflow')
            ELSE n END AS file_rank
FROM (SELECT source_month, row_number() OVER (ORDER BY source_month) AS n
      FROM (SELECT DISTINCT source_month FROM _rec WHERE src <> 'gp'));

-- arg_max ignores null values, so each field is the latest *known* value; unknown codes (sex U,
-- ethnicity Z/99) are used only when nothing better was ever recorded.
CREATE TEMP TABLE _sec AS
WITH r AS (
    SELECT _rec.*,
           (least(greatest(coalesce(date_diff('day', DATE '1900-01-01', activity_date), 0), 0), 65535) << 47)
           | (coalesce(f.file_rank, 0)::BIGINT << 31) | coalesce((hash(row_token) & 2147483647)::BIGINT, 0) AS ord
    FROM _rec LEFT JOIN _file_rank AS f USING (source_month)
    WHERE src <> 'gp'
)
SELECT person_token,
       arg_max(birth_year_month, ord) AS birth_year_month,
       coalesce(arg_max(sex, ord) FILTER (WHERE sex IN ('M', 'F')), arg_max(sex, ord)) AS sex,
       coalesce(arg_max(ethnic_category, ord) FILTER (WHERE ethnic_category NOT IN ('Z', '99')),
                arg_max(ethnic_category, ord)) AS ethnic_category,
       arg_max(lsoa21, ord) AS lsoa21,
       arg_max(practice_code, ord) AS practice_code
FROM r
GROUP BY person_token;

CREATE TEMP TABLE _hospital_death AS
SELECT person_token, strftime(max(discharge_date), '%Y-%m') AS death_month
FROM apc_spell
WHERE discharge_method = '4'
GROUP BY person_token;

CREATE TEMP TABLE _link AS
SELECT person_token,
       arg_max(link_method, {'r': CASE link_method WHEN 'nhs_number' THEN 3 WHEN 'unmatched' THEN 1 ELSE 2 END,
                             'c': link_confidence, 'm': link_method}) AS link_method,
       max(link_confidence) AS link_confidence,
       bool_or(practice_shares_gp_data) AS any_practice_shares,
       bool_or(src = 'gp') AS in_gp,
       bool_or(src = 'apc') AS in_apc,
       bool_or(src = 'ecds') AS in_ecds,
       bool_or(src = 'outpatients') AS in_outpatients,
       bool_or(src = 'csds') AS in_csds,
       bool_or(src = 'mhsds') AS in_mhsds,
       bool_or(src = 'asc') AS in_asc
FROM _rec
WHERE person_token IS NOT NULL
GROUP BY person_token;

CREATE TABLE person AS
SELECT l.person_token,
       coalesce(g.birth_year_month, s.birth_year_month) AS birth_year_month,
       coalesce(g.sex, s.sex) AS sex,
       coalesce(g.ethnic_category, s.ethnic_category) AS ethnic_category,
       e.ethnic_group,
       coalesce(g.lsoa21, s.lsoa21) AS lsoa21,
       z.imd_decile,
       z.place,
       coalesce(g.practice_code, s.practice_code) AS practice_code,
       p.pcn_code,
       p.place AS practice_place,
       g.registration_start,
       g.registration_end,
       coalesce(g.death_month, h.death_month) AS death_month,
       l.link_method,
       l.link_confidence,
       CASE WHEN l.in_gp THEN true ELSE coalesce(p.shares_gp_data, l.any_practice_shares) END AS gp_data_shared,
       CASE WHEN g.person_token IS NOT NULL THEN 'gp' ELSE 'secondary' END AS demographics_source,
       l.in_gp, l.in_apc, l.in_ecds, l.in_outpatients, l.in_csds, l.in_mhsds, l.in_asc
FROM _link AS l
LEFT JOIN _gp AS g USING (person_token)
LEFT JOIN _sec AS s USING (person_token)
LEFT JOIN _hospital_death AS h USING (person_token)
LEFT JOIN ref_ethnic_category AS e ON e.ethnic_category = coalesce(g.ethnic_category, s.ethnic_category)
LEFT JOIN ref_lsoa AS z ON z.lsoa21 = coalesce(g.lsoa21, s.lsoa21)
LEFT JOIN ref_practice AS p ON p.practice_code = coalesce(g.practice_code, s.practice_code)
ORDER BY l.person_token;

DROP TABLE _rec;
DROP TABLE _gp;
DROP TABLE _sec;
DROP TABLE _file_rank;
DROP TABLE _hospital_death;
DROP TABLE _link;
