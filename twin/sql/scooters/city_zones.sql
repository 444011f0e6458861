-- The city's own micromobility zones, in the order GBFS gives them precedence (first wins):
-- no-ride (pedestrian zones), sidewalk speed (pedestrian streets), slow (parks, boulevards,
-- embankments, squares), key sections, duty zones. Geometry: MultiPolygon, right-hand rule.
WITH zones AS (
    SELECT 1 AS rank, 'no_ride' AS rule, 'parks' AS layer, id, name, district, geom
    FROM parks WHERE kind = 'pedestrian_zone' AND status = 'existing'
    UNION ALL
    SELECT 2, 'sidewalk', 'streets', id, coalesce(name, 'Pedestrian street'), NULL,
           ST_Buffer(geom::geography, %(street_half_width_m)s)::geometry
    FROM streets WHERE highway = 'pedestrian'
    UNION ALL
    SELECT 3, 'slow', 'parks', id, name, district, geom
    FROM parks
    WHERE kind IN ('park', 'boulevard', 'embankment', 'square') AND status = 'existing'
    UNION ALL
    SELECT CASE WHEN kind = 'key_section' THEN 4 ELSE 5 END, kind, 'scooter_zones', id, name,
           district, geom
    FROM scooter_zones
)
SELECT rank, rule, layer, id, coalesce(name, initcap(replace(rule, '_', ' ')) || ' ' || id),
       district,
       ST_AsGeoJSON(ST_Multi(ST_ForcePolygonCCW(ST_CollectionExtract(ST_MakeValid(geom), 3))), 6)
FROM zones
WHERE NOT ST_IsEmpty(geom)
ORDER BY rank, id
