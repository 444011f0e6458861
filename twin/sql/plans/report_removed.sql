-- Where the amenities and parks a plan removes (or moves) stand today, so the report maps a
-- removal whose edit carries no geometry: GeoJSON in WGS 84.
SELECT 'amenity' AS layer, id, name, ST_AsGeoJSON(geom, 6) AS shape
FROM amenities
WHERE id = ANY(%(amenities)s)
UNION ALL
SELECT 'park' AS layer, id, name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.00005), 6)
FROM parks
WHERE id = ANY(%(parks)s)
