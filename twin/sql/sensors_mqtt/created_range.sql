-- The Observations one INSERT created (the range of sta_observations_created's notice), for the
-- bridge to publish as entities; the time bounds prune the day partitions.
SELECT o.datastream_id, o.id, o.phenomenon_time, o.phenomenon_time_end, o.result_time,
       coalesce(to_jsonb(o.result_number), o.result_json) AS result, o.result_quality,
       o.valid_start, o.valid_end, o.parameters
  FROM sta_observations o
 WHERE o.phenomenon_time BETWEEN %(from)s AND %(to)s
   AND o.id BETWEEN %(first)s AND %(last)s
