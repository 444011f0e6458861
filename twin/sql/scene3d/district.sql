-- The district a scene is cut from, found by any of its names (English, Russian, Kazakh).
SELECT name_en, ST_AsBinary(ST_Force2D(geom))
FROM districts
WHERE lower(name_en) = lower(%(name)s)
   OR lower(name_ru) = lower(%(name)s)
   OR lower(name_kk) = lower(%(name)s)
ORDER BY id
LIMIT 1
