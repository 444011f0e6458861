-- A Datastream's latest Observation (latest_*, 0017) and time span again from its stored
-- Observations (after a change or deletion of one of them).
UPDATE sta_datastreams d SET
    latest_time = l.phenomenon_time,
    latest_number = l.result_number,
    latest_json = COALESCE(l.result_json, to_jsonb(l.result_number)),
    latest_id = l.id,
    latest_end = l.phenomenon_time_end,
    latest_result_time = l.result_time,
    latest_quality = l.result_quality,
    latest_valid_start = l.valid_start,
    latest_valid_end = l.valid_end,
    latest_parameters = l.parameters,
    latest_feature_id = l.feature_of_interest_id,
    phenomenon_start = s.first_time,
    phenomenon_end = s.last_time
FROM (SELECT min(phenomenon_time) AS first_time,
             max(COALESCE(phenomenon_time_end, phenomenon_time)) AS last_time
      FROM sta_observations WHERE datastream_id = %(id)s) s
LEFT JOIN LATERAL (
    SELECT id, phenomenon_time, phenomenon_time_end, result_time, result_number, result_json,
           result_quality, valid_start, valid_end, parameters, feature_of_interest_id
    FROM sta_observations
    WHERE datastream_id = %(id)s ORDER BY phenomenon_time DESC LIMIT 1
) l ON true
WHERE d.id = %(id)s
