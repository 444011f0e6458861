-- Fault traces cut to an area, in UTM 43N.
WITH area AS (SELECT ST_GeomFromWKB(%(area)s, 4326) AS g)
SELECT f.id, f.name, f.active, f.setback_m, f.terrain,
       ST_AsBinary(ST_Force2D(ST_Transform(
           ST_CollectionExtract(ST_Intersection(f.geom, area.g), 2), 32643)))
FROM seismic_faults AS f, area
WHERE ST_Intersects(f.geom, area.g)
ORDER BY f.id
