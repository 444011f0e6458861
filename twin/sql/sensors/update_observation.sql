UPDATE sta_observations SET {assignments}
WHERE datastream_id = %(datastream_id)s AND phenomenon_time = %(phenomenon_time)s
  AND id = %(id)s
RETURNING id
