-- The smart lamps: every %(spacing)s m along lighting lines of utility_lines, on lines taken in
-- a seeded order until %(count)s lamps; each with its line, district and the nearest street.
WITH lines AS (
    SELECT id, district, geom,
           greatest(1, floor(ST_Length(geom::geography) / %(spacing)s))::int AS lamps
    FROM utility_lines
    WHERE network = 'lighting'
), ordered AS (
    SELECT *, sum(lamps) OVER (ORDER BY md5(%(seed)s::text || ':' || id), id) AS upto
    FROM lines
), chosen AS (
    SELECT * FROM ordered WHERE upto - lamps < %(count)s
), parts AS (
    SELECT c.id, c.district, (ST_Dump(c.geom)).geom AS part, c.lamps, c.upto
    FROM chosen c
), points AS (
    SELECT p.id AS line_id, p.district, k,
           ST_LineInterpolatePoint(p.part, (k + 0.5) / p.lamps) AS geom,
           p.upto - p.lamps + k AS rank
    FROM (SELECT DISTINCT ON (id) * FROM parts ORDER BY id, ST_Length(part) DESC) p,
         generate_series(0, p.lamps - 1) AS k
)
SELECT pt.line_id, pt.k, pt.district, ST_X(pt.geom), ST_Y(pt.geom), s.id, s.name
FROM points pt
CROSS JOIN LATERAL (
    SELECT id, name FROM streets ORDER BY streets.geom <-> pt.geom LIMIT 1
) s
WHERE pt.rank < %(count)s
ORDER BY pt.rank;
