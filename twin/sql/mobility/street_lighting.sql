-- Street segments with their lighting and length; midpoint in metres for the district.
SELECT id, name, highway, coalesce(lit, false) AS lit, length_m,
       ST_X(ST_Transform(ST_LineInterpolatePoint(geom, 0.5), 32643)) AS x,
       ST_Y(ST_Transform(ST_LineInterpolatePoint(geom, 0.5), 32643)) AS y
FROM streets
