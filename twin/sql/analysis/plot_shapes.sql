SELECT id, ST_AsBinary(geom) AS wkb FROM plots
WHERE %(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s)
ORDER BY id
