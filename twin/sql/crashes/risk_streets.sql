-- The streets a crash may fall on, with their district and metres from the centre (the middle
-- of the scooter parking, which the demo gathers in the centre).
WITH centre AS (
    SELECT coalesce(ST_Centroid(ST_Collect(geom)), ST_SetSRID(ST_MakePoint(76.945, 43.25), 4326))
           AS c
    FROM scooter_parking
)
SELECT s.id, s.name, s.highway, s.lit, d.name_en, s.length_m,
       ST_Distance(ST_LineInterpolatePoint(s.geom, 0.5)::geography, centre.c::geography),
       ST_AsBinary(s.geom)
FROM streets s
CROSS JOIN centre
LEFT JOIN LATERAL (
    SELECT name_en FROM districts
    WHERE ST_Intersects(districts.geom, ST_LineInterpolatePoint(s.geom, 0.5))
    LIMIT 1
) d ON true
ORDER BY s.id
