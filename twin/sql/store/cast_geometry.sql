INSERT INTO {table} ({columns}{sep}geom)
SELECT {columns}{sep}{multi}(ST_SetSRID(ST_GeomFromWKB(g), %(srid)s))
FROM {staging}
