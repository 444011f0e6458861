-- An Observation by its @iot.id (the BRIN on id of each day partition finds it).
SELECT o.datastream_id, o.phenomenon_time, d.result_kind, d.thing_id, t.provider_id
FROM sta_observations o
JOIN sta_datastreams d ON d.id = o.datastream_id
JOIN sta_things t ON t.id = d.thing_id
WHERE o.id = %(id)s
