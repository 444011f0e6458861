-- Recent buildings of the demo (where its year of construction happened).
SELECT b.id, b.district, b.floor_area_m2, ST_AsGeoJSON(ST_PointOnSurface(b.geom))
FROM buildings AS b
WHERE b.floor_area_m2 > 0 AND b.year_built >= %(since)s AND b.district IS NOT NULL
ORDER BY b.id
LIMIT 50000
