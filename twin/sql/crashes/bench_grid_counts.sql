-- `twin bench mobility_ops`'s peer for hotspots: raw crash counts per ~300 m grid square and
-- year, without exposure or empirical Bayes.
SELECT year, ST_SnapToGrid(geom, 0.004) AS square, count(*)
FROM crashes
GROUP BY year, square
HAVING count(*) >= 3
ORDER BY year, count(*) DESC
