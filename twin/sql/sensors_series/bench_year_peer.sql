-- The raw SQL peer of a Datastream's year from its hourly aggregates (`twin bench sensors`).
SELECT hour, n, mean, min, max
  FROM sta_observations_hourly
 WHERE datastream_id = %(id)s AND hour >= %(start)s AND hour < %(end)s
 ORDER BY hour
