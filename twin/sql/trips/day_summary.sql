-- A day's trips [from, to): by hour and operator, with their distances and durations.
SELECT date_trunc('hour', start_time) AS hour, provider_name, count(*)::int,
       avg(distance_m), avg(duration_s), bool_or(synthetic)
FROM scooter_trips
WHERE start_time >= %(from)s AND start_time < %(to)s
GROUP BY hour, provider_name
ORDER BY hour, provider_name
