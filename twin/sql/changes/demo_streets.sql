-- The demo's lit streets by name and district (where its year of lighting happened): length
-- and a point on the street.
SELECT s.name, d.name_en, sum(s.length_m), ST_AsGeoJSON(ST_LineInterpolatePoint(
           (array_agg(s.geom ORDER BY s.id))[1], 0.5))
FROM streets AS s
JOIN districts AS d ON ST_Intersects(d.geom, ST_StartPoint(s.geom))
WHERE s.lit AND s.name IS NOT NULL
GROUP BY s.name, d.name_en
ORDER BY d.name_en, s.name
