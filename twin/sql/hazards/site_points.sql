-- The places whose exposure the district figures count: schools, hospitals and clinics,
-- gathering points and buildings, as points in metres (UTM 43N).
SELECT 'school' AS what, ST_X(ST_Transform(geom, 32643)), ST_Y(ST_Transform(geom, 32643))
FROM amenities WHERE kind = 'school'
UNION ALL
SELECT 'hospital', ST_X(ST_Transform(geom, 32643)), ST_Y(ST_Transform(geom, 32643))
FROM amenities WHERE kind IN ('hospital', 'clinic')
UNION ALL
SELECT 'gathering_point', ST_X(ST_Transform(geom, 32643)), ST_Y(ST_Transform(geom, 32643))
FROM gathering_points
UNION ALL
SELECT 'building', ST_X(p), ST_Y(p)
FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 32643) AS p FROM buildings) b
