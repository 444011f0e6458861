-- Which (Datastream, time) pairs of a refused batch were already stored.
SELECT v.datastream_id, v.phenomenon_time
FROM unnest(%(ids)s::bigint[], %(times)s::timestamptz[]) AS v (datastream_id, phenomenon_time)
JOIN sta_observations o USING (datastream_id, phenomenon_time)
