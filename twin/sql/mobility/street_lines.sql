-- Street segments by id (lon/lat), to draw the unlit streets.
SELECT id, ST_AsBinary(geom) AS wkb FROM streets WHERE id = ANY(%(ids)s::bigint[])
