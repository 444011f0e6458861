-- The noted late hours (0025) aggregated again in full from their raw rows, and the notes used
-- cleared (a note counted again meanwhile stays). A noted hour with no raw number result left
-- (its Observations deleted since) loses its aggregate. Hours of a dropped day wait for the
-- day's partition to be dropped again (aggregate_hours_added). Returns (aggregates written or
-- deleted, notes cleared).
WITH late AS (
    SELECT l.datastream_id, l.hour, l.noted
    FROM sta_late_hours l
    WHERE NOT EXISTS (
        SELECT FROM sta_dropped_days d WHERE d.day = (l.hour AT TIME ZONE 'UTC')::date
    )
), fresh AS (
    INSERT INTO sta_observations_hourly AS h (datastream_id, hour, n, mean, min, max)
    SELECT late.datastream_id, late.hour, count(*), avg(o.result_number),
           min(o.result_number), max(o.result_number)
    FROM late
    JOIN sta_observations o
      ON o.datastream_id = late.datastream_id
     AND o.phenomenon_time >= late.hour AND o.phenomenon_time < late.hour + INTERVAL '1 hour'
    WHERE o.result_number IS NOT NULL
    GROUP BY 1, 2
    ON CONFLICT (datastream_id, hour) DO UPDATE
        SET n = EXCLUDED.n, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max
    RETURNING 1
), emptied AS (
    DELETE FROM sta_observations_hourly h
    USING late
    WHERE h.datastream_id = late.datastream_id AND h.hour = late.hour
      AND NOT EXISTS (
          SELECT FROM sta_observations o
          WHERE o.datastream_id = late.datastream_id
            AND o.phenomenon_time >= late.hour
            AND o.phenomenon_time < late.hour + INTERVAL '1 hour'
            AND o.result_number IS NOT NULL
      )
    RETURNING 1
), cleared AS (
    DELETE FROM sta_late_hours l
    USING late
    WHERE l.datastream_id = late.datastream_id AND l.hour = late.hour AND l.noted = late.noted
    RETURNING 1
)
SELECT (SELECT count(*) FROM fresh) + (SELECT count(*) FROM emptied),
       (SELECT count(*) FROM cleared)
