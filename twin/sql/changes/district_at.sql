-- The district a changed feature lies in (its point on surface), for features without one.
SELECT d.name_en
FROM districts AS d
WHERE ST_Intersects(d.geom, ST_PointOnSurface(ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s), 4326)))
LIMIT 1
