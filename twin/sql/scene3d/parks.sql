-- Parks cut to an area, in UTM 43N.
WITH area AS (SELECT ST_GeomFromWKB(%(area)s, 4326) AS g)
SELECT p.id, p.name, p.kind, p.status, p.area_ha,
       ST_AsBinary(ST_Force2D(ST_Transform(
           ST_CollectionExtract(ST_Intersection(p.geom, area.g), 3), 32643)))
FROM parks AS p, area
WHERE ST_Intersects(p.geom, area.g)
ORDER BY p.id
