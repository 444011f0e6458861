-- The latest Observation of a Datastream, as its JSON text in a one-element array, inline in the
-- Datastream's row ($expand=Observations($top=1;$orderby=phenomenonTime desc)): the Datastream
-- row carries its latest Observation whole (latest_*, kept by the ingest and by edits; 0017),
-- so this reads no observation partition at all; the row is named as sta_observations' columns
-- so the Observation's JSON is written by the same code as everywhere else.
(SELECT '[' || {observation} || ']'
 FROM (SELECT {t}.latest_id AS id,
              {t}.latest_time AS phenomenon_time,
              {t}.latest_end AS phenomenon_time_end,
              {t}.latest_result_time AS result_time,
              {t}.latest_number AS result_number,
              CASE WHEN {t}.latest_number IS NULL THEN {t}.latest_json END AS result_json,
              {t}.latest_quality AS result_quality,
              {t}.latest_valid_start AS valid_start,
              {t}.latest_valid_end AS valid_end,
              {t}.latest_parameters AS parameters,
              {t}.id AS datastream_id,
              {t}.latest_feature_id AS feature_of_interest_id) AS {o}
 WHERE {o}.id IS NOT NULL)
