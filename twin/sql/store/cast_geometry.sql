INSERT INTO {table} ({columns}{sep}geom)
SELECT {columns}{sep}{multi}(ST_SetSRID(g, %(srid)s))
FROM {staging}
