-- Existing parks, squares and embankments of a 2022 build's size (Kokmaisa 16 ha, Kemel 10 ha,
-- Zheltoksan 31 ha): the demo's year opens a few of them.
SELECT p.id, p.name, p.district, p.area_ha, ST_AsGeoJSON(ST_PointOnSurface(p.geom))
FROM parks AS p
WHERE p.status = 'existing' AND p.kind IN ('park', 'square', 'embankment')
  AND p.area_ha BETWEEN 5 AND 40
ORDER BY p.id
