-- A repeatable sample of lived-in plots (benchmarks pick their start points here).
SELECT id, ST_X(c) AS lon, ST_Y(c) AS lat
FROM (SELECT id, ST_PointOnSurface(geom) AS c FROM plots WHERE residents > 0
      ORDER BY md5(id::text || %(seed)s) LIMIT %(count)s) t
