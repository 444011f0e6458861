UPDATE {table} AS t
SET ({columns}, geom) = ({staged}, {multi}(ST_SetSRID(s.g, %(srid)s)))
FROM {staging} AS s
WHERE t.{key} = s.{key}
  AND ({current}, t.geom) IS DISTINCT FROM ({staged}, {multi}(ST_SetSRID(s.g, %(srid)s)))
