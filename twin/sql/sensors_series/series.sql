-- A Datastream's number results in [start, end) as bins of %(step)s (1 minute, 1 hour, 1 day,
-- aligned to 2000-01-01 UTC): n, mean, min and max of each bin that has observations.
-- Hours before the retention's mark (sta_retention.aggregated_until: closed and aggregated)
-- come from the hourly aggregates, which outlive the raw day partitions; the hours after it
-- (the still-open hour, what retention has not reached yet) from the raw observations. A
-- minute's bins (%(hourly)s false) read raw observations only. A day's mean is the mean of its
-- observations (hourly means weighted by their n).
WITH mark AS (
    SELECT CASE WHEN %(hourly)s
                THEN coalesce((SELECT aggregated_until FROM sta_retention), '-infinity')
                ELSE TIMESTAMPTZ '-infinity' END AS until
), parts AS (
    SELECT h.hour AS at, h.n, h.mean, h.min, h.max
    FROM sta_observations_hourly AS h, mark
    WHERE h.datastream_id = %(id)s
      AND h.hour >= %(start)s AND h.hour < least(%(end)s, mark.until)
    UNION ALL
    SELECT date_bin(%(step)s, o.phenomenon_time, TIMESTAMPTZ '2000-01-01 00:00+00'),
           count(*), avg(o.result_number), min(o.result_number), max(o.result_number)
    FROM sta_observations AS o, mark
    WHERE o.datastream_id = %(id)s
      AND o.phenomenon_time >= greatest(%(start)s, mark.until) AND o.phenomenon_time < %(end)s
      AND o.result_number IS NOT NULL
    GROUP BY 1
)
SELECT date_bin(%(step)s, at, TIMESTAMPTZ '2000-01-01 00:00+00') AS time,
       sum(n)::bigint AS n,
       sum(mean * n) / sum(n) AS mean,
       min(min) AS min,
       max(max) AS max
FROM parts
GROUP BY 1
ORDER BY 1
