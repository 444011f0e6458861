-- Utility lines cut to an area, in UTM 43N, with the depth and diameter their tubes need.
WITH area AS (SELECT ST_GeomFromWKB(%(area)s, 4326) AS g)
SELECT u.id, u.network, u.depth_m, u.diameter_mm, u.wear_pct, u.installed_year,
       ST_AsBinary(ST_Force2D(ST_Transform(
           ST_CollectionExtract(ST_Intersection(u.geom, area.g), 2), 32643)))
FROM utility_lines AS u, area
WHERE ST_Intersects(u.geom, area.g)
ORDER BY u.id
