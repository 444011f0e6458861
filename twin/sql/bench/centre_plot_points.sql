-- A repeatable sample of lived-in plots inside an envelope (lon/lat): the growth benchmark
-- starts its isochrones in the same central area at every scale.
SELECT id, ST_X(c) AS lon, ST_Y(c) AS lat
FROM (SELECT id, ST_PointOnSurface(geom) AS c FROM plots
      WHERE residents > 0
        AND geom && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)
      ORDER BY md5(id::text || %(seed)s) LIMIT %(count)s) t
