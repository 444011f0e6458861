-- The polycentre a scene is cut from, by its English or Russian name.
SELECT name, ST_AsBinary(ST_Force2D(geom))
FROM polycentres
WHERE lower(name) = lower(%(name)s)
   OR lower(name_ru) = lower(%(name)s)
ORDER BY id
LIMIT 1
