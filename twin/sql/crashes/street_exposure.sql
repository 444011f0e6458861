-- The drivable streets as points every 100 m or less, each carrying its share of the length:
-- the hotspot method's exposure (street km of each class per H3 cell), lit or not.
SELECT s.highway, coalesce(s.lit, false), s.length_m / n.k,
       ST_X(p.pt), ST_Y(p.pt)
FROM streets s
CROSS JOIN LATERAL (SELECT greatest(1, ceil(s.length_m / 100.0))::int AS k) n
CROSS JOIN LATERAL generate_series(0, n.k - 1) AS i
CROSS JOIN LATERAL (SELECT ST_LineInterpolatePoint(s.geom, (i + 0.5) / n.k) AS pt) p
WHERE s.highway = ANY(%(classes)s)
