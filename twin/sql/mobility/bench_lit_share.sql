-- Raw SQL for `twin bench mobility`: share of street length lit per district (segment midpoint).
SELECT d.name_en, sum(s.length_m) FILTER (WHERE s.lit) / sum(s.length_m)
FROM streets s JOIN districts d ON ST_Intersects(d.geom, ST_LineInterpolatePoint(s.geom, 0.5))
GROUP BY 1
