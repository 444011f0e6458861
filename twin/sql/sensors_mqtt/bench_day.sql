-- The raw SQL peer of a Datastream's day at 1-minute resolution (`twin bench sensors`).
SELECT id, phenomenon_time, result_number
  FROM sta_observations
 WHERE datastream_id = %(id)s AND phenomenon_time >= %(from)s AND phenomenon_time < %(to)s
 ORDER BY phenomenon_time
 LIMIT 1440
