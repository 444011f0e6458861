-- The sensors whose Datastream has a newer latest value than the layer shows: value and time.
UPDATE sensors s
SET value = CASE WHEN d.latest_number IS NOT NULL THEN d.latest_number
                 WHEN d.latest_json = 'true'::jsonb THEN 1.0
                 WHEN d.latest_json = 'false'::jsonb THEN 0.0 END,
    observed_at = d.latest_time
FROM sta_datastreams d
WHERE d.id = s.datastream AND d.latest_time IS DISTINCT FROM s.observed_at;
