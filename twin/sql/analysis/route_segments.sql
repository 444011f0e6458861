-- The street geometry of each segment a route walks, oriented the way it is walked
-- (twin.processes.route): node id pairs in walking order; of parallel segments the shortest.
SELECT DISTINCT ON (walk.i) walk.i,
       ST_AsGeoJSON(CASE WHEN s.source_node = walk.u THEN s.geom ELSE ST_Reverse(s.geom) END, 7)
FROM unnest(%(u)s::bigint[], %(v)s::bigint[]) WITH ORDINALITY AS walk(u, v, i)
JOIN streets s
  ON least(s.source_node, s.target_node) = least(walk.u, walk.v)
 AND greatest(s.source_node, s.target_node) = greatest(walk.u, walk.v)
WHERE s.walkable
ORDER BY walk.i, s.length_m
