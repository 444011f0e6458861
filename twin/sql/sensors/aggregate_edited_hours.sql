-- The hourly aggregates of the hours of edited or deleted Observations again from their raw
-- rows, at once, in the edit's transaction: an hour left with no number result loses its
-- aggregate. Hours of a dropped day are left alone: their aggregate counts rows no longer
-- stored (an Observation stored again for such a day is added when the day is dropped again).
WITH touched AS (
    SELECT DISTINCT t.datastream_id,
           date_bin('1 hour', t.at, TIMESTAMPTZ '2000-01-01 00:00+00') AS hour
    FROM unnest(%(ids)s::bigint[], %(times)s::timestamptz[]) AS t (datastream_id, at)
    WHERE NOT EXISTS (
        SELECT FROM sta_dropped_days d WHERE d.day = (t.at AT TIME ZONE 'UTC')::date
    )
), raw AS (
    SELECT touched.datastream_id, touched.hour, count(o.result_number) AS n,
           avg(o.result_number) AS mean, min(o.result_number) AS min,
           max(o.result_number) AS max
    FROM touched
    LEFT JOIN sta_observations o
      ON o.datastream_id = touched.datastream_id
     AND o.phenomenon_time >= touched.hour
     AND o.phenomenon_time < touched.hour + INTERVAL '1 hour'
     AND o.result_number IS NOT NULL
    GROUP BY 1, 2
), emptied AS (
    DELETE FROM sta_observations_hourly h
    USING raw
    WHERE raw.n = 0 AND h.datastream_id = raw.datastream_id AND h.hour = raw.hour
)
INSERT INTO sta_observations_hourly AS h (datastream_id, hour, n, mean, min, max)
SELECT datastream_id, hour, n, mean, min, max FROM raw WHERE n > 0
ON CONFLICT (datastream_id, hour) DO UPDATE
    SET n = EXCLUDED.n, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max
