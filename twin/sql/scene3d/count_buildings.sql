-- How many buildings a scene of this area would hold (a building belongs to the area that
-- holds a point on its surface, so a building on the edge is in exactly one scene).
WITH area AS (SELECT ST_GeomFromWKB(%(area)s, 4326) AS g)
SELECT count(*)
FROM buildings AS b, area
WHERE ST_Intersects(b.geom, area.g)
  AND ST_Intersects(area.g, ST_PointOnSurface(b.geom))
