INSERT INTO {table} ({columns}, geom)
SELECT {staged}, {multi}(ST_SetSRID(s.g, %(srid)s)) FROM {staging} AS s
WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.{key} = s.{key})
