-- Air sensors: %(counts)s seeded points inside each district (%(districts)s, by name).
SELECT d.id, d.name_en, ST_X(p.geom), ST_Y(p.geom)
FROM unnest(%(districts)s::text[], %(counts)s::int[]) AS want(name, n)
JOIN districts d ON d.name_en = want.name
CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(d.geom, want.n, %(seed)s)) AS p
WHERE want.n > 0
ORDER BY d.name_en, ST_Y(p.geom) DESC, ST_X(p.geom);
