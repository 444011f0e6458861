-- Trips by H3 cell and hour over [from, to): started there (by the start hour), ended there
-- (by the end hour) and passed through (every cell of the route, by the start hour).
SELECT cell, hour, sum(o)::int, sum(d)::int, sum(r)::int, bool_or(synthetic)
FROM (
    SELECT start_h3 AS cell, date_trunc('hour', start_time) AS hour, 1 AS o, 0 AS d, 0 AS r,
           synthetic
    FROM scooter_trips
    WHERE start_time >= %(from)s AND start_time < %(to)s
    UNION ALL
    SELECT end_h3, date_trunc('hour', end_time), 0, 1, 0, synthetic
    FROM scooter_trips
    WHERE end_time >= %(from)s AND end_time < %(to)s
      AND start_time >= %(from)s - interval '1 day' AND start_time < %(to)s
    UNION ALL
    SELECT unnest(route_h3), date_trunc('hour', start_time), 0, 0, 1, synthetic
    FROM scooter_trips
    WHERE start_time >= %(from)s AND start_time < %(to)s
) AS counted
GROUP BY cell, hour
