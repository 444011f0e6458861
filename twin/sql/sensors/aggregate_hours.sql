-- Hourly aggregates (n, mean, min, max) of the number results in [start, end), recomputed in
-- full for every hour touched (so a re-run, or late data, gives the same figures).
INSERT INTO sta_observations_hourly AS h (datastream_id, hour, n, mean, min, max)
SELECT datastream_id, date_bin('1 hour', phenomenon_time, TIMESTAMPTZ '2000-01-01 00:00+00'),
       count(*), avg(result_number), min(result_number), max(result_number)
FROM sta_observations
WHERE phenomenon_time >= %(start)s AND phenomenon_time < %(end)s
  AND result_number IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (datastream_id, hour) DO UPDATE
    SET n = EXCLUDED.n, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max
