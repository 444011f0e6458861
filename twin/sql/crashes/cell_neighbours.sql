-- Cameras within 50 m and transit stops within 150 m of each hotspot cell.
SELECT c.n,
       (SELECT count(*) FROM cameras k
        WHERE k.geom && ST_Expand(c.g, 0.001)
          AND ST_DWithin(k.geom::geography, c.g::geography, 50))::int,
       (SELECT count(*) FROM transit_stops t
        WHERE t.geom && ST_Expand(c.g, 0.0025)
          AND ST_DWithin(t.geom::geography, c.g::geography, 150))::int
FROM unnest(%(n)s::int[], %(g)s::bytea[]) AS w (n, wkb)
CROSS JOIN LATERAL (SELECT w.n, ST_GeomFromEWKB(w.wkb) AS g) c
