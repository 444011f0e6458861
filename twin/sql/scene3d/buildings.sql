-- Buildings of an area with footprints in UTM 43N (metres) and what a 3D tool shows of them.
WITH area AS (SELECT ST_GeomFromWKB(%(area)s, 4326) AS g)
SELECT b.id, b.height_m, b.levels, b.use, b.seismic_status, b.year_built, b.district,
       ST_AsBinary(ST_Force2D(ST_Transform(b.geom, 32643)))
FROM buildings AS b, area
WHERE ST_Intersects(b.geom, area.g)
  AND ST_Intersects(area.g, ST_PointOnSurface(b.geom))
ORDER BY b.id
