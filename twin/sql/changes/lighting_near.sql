-- The other lighting lines around the streets a lighting line reaches (in metres, UTM 43N):
-- what lit those streets before it.
WITH line AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s), 4326) AS g),
     box AS (SELECT ST_Expand(ST_Extent(s.geom)::geometry, 0.0005) AS b
             FROM line JOIN streets AS s ON s.geom && ST_Expand(line.g, 0.0005))
SELECT ST_AsBinary(ST_Transform(u.geom, 32643))
FROM box JOIN utility_lines AS u ON u.geom && box.b
WHERE u.network = 'lighting' AND u.id <> %(id)s
