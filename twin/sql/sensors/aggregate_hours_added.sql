-- A day whose partition retention dropped before and the ingest made again: its raw rows all
-- arrived after the drop, so they are added to the hours' aggregates (n, mean, min, max
-- combined), never put in their place.
INSERT INTO sta_observations_hourly AS h (datastream_id, hour, n, mean, min, max)
SELECT datastream_id, date_bin('1 hour', phenomenon_time, TIMESTAMPTZ '2000-01-01 00:00+00'),
       count(*), avg(result_number), min(result_number), max(result_number)
FROM sta_observations
WHERE phenomenon_time >= %(start)s AND phenomenon_time < %(end)s
  AND result_number IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (datastream_id, hour) DO UPDATE
    SET n = h.n + EXCLUDED.n,
        mean = (h.mean * h.n + EXCLUDED.mean * EXCLUDED.n) / (h.n + EXCLUDED.n),
        min = LEAST(h.min, EXCLUDED.min),
        max = GREATEST(h.max, EXCLUDED.max)
