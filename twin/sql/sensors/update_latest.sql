-- One update per Datastream of a batch: the latest value moves only to a newer time (an
-- out-of-order Observation is stored but leaves latest_* alone); the phenomenon time span
-- widens to take the batch in.
UPDATE sta_datastreams d SET
    latest_time = CASE WHEN d.latest_time IS NULL OR v.latest_time > d.latest_time
                       THEN v.latest_time ELSE d.latest_time END,
    latest_number = CASE WHEN d.latest_time IS NULL OR v.latest_time > d.latest_time
                         THEN v.latest_number ELSE d.latest_number END,
    latest_json = CASE WHEN d.latest_time IS NULL OR v.latest_time > d.latest_time
                       THEN v.latest_json ELSE d.latest_json END,
    phenomenon_start = LEAST(d.phenomenon_start, v.first_time),
    phenomenon_end = GREATEST(d.phenomenon_end, v.last_time)
FROM unnest(
    %(ids)s::bigint[], %(latest_time)s::timestamptz[], %(latest_number)s::float8[],
    %(latest_json)s::jsonb[], %(first_time)s::timestamptz[], %(last_time)s::timestamptz[]
) AS v (id, latest_time, latest_number, latest_json, first_time, last_time)
WHERE d.id = v.id
