SELECT id, ST_AsBinary(geom) AS wkb FROM plots ORDER BY id
