-- Street segments within reach of a lighting line (twin.mobility.lighting's rule decides which
-- it lights), in metres (UTM 43N), with the district of each segment's middle and that middle
-- point (where the change is shown).
WITH line AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s), 4326) AS g)
SELECT s.id, s.name, d.name_en, ST_AsBinary(ST_Transform(s.geom, 32643)),
       ST_AsGeoJSON(ST_LineInterpolatePoint(s.geom, 0.5))
FROM line
JOIN streets AS s ON s.geom && ST_Expand(line.g, 0.0005)
LEFT JOIN LATERAL (SELECT name_en FROM districts
                   WHERE ST_Intersects(districts.geom, ST_LineInterpolatePoint(s.geom, 0.5))
                   LIMIT 1) AS d ON true
WHERE ST_DWithin(ST_Transform(s.geom, 32643), ST_Transform(line.g, 32643), %(reach)s)
ORDER BY s.id
