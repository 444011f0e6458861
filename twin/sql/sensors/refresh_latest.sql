-- A Datastream's latest_* and time span again from its stored Observations (after a change
-- or deletion of one of them).
UPDATE sta_datastreams d SET
    latest_time = l.phenomenon_time,
    latest_number = l.result_number,
    latest_json = COALESCE(l.result_json, to_jsonb(l.result_number)),
    phenomenon_start = s.first_time,
    phenomenon_end = s.last_time
FROM (SELECT min(phenomenon_time) AS first_time,
             max(COALESCE(phenomenon_time_end, phenomenon_time)) AS last_time
      FROM sta_observations WHERE datastream_id = %(id)s) s
LEFT JOIN LATERAL (
    SELECT phenomenon_time, result_number, result_json FROM sta_observations
    WHERE datastream_id = %(id)s ORDER BY phenomenon_time DESC LIMIT 1
) l ON true
WHERE d.id = %(id)s
