-- One update per Datastream of a batch: the latest Observation (its members, 0017) moves only
-- to a newer time (an out-of-order Observation is stored but leaves latest_* alone).
UPDATE sta_datastreams d SET
    latest_time = v.latest_time,
    latest_number = v.latest_number,
    latest_json = v.latest_json,
    latest_id = v.latest_id,
    latest_end = v.latest_end,
    latest_result_time = v.latest_result_time,
    latest_quality = v.latest_quality,
    latest_valid_start = v.latest_valid_start,
    latest_valid_end = v.latest_valid_end,
    latest_parameters = v.latest_parameters,
    latest_feature_id = v.latest_feature_id
FROM unnest(
    %(ids)s::bigint[], %(latest_time)s::timestamptz[], %(latest_number)s::float8[],
    %(latest_json)s::jsonb[], %(latest_id)s::bigint[], %(latest_end)s::timestamptz[],
    %(latest_result_time)s::timestamptz[], %(latest_quality)s::jsonb[],
    %(latest_valid_start)s::timestamptz[], %(latest_valid_end)s::timestamptz[],
    %(latest_parameters)s::jsonb[], %(latest_feature_id)s::bigint[]
) AS v (id, latest_time, latest_number, latest_json, latest_id, latest_end, latest_result_time,
        latest_quality, latest_valid_start, latest_valid_end, latest_parameters,
        latest_feature_id)
WHERE d.id = v.id AND (d.latest_time IS NULL OR v.latest_time > d.latest_time)
