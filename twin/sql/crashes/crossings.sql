-- Crossings, derived (docs/road-safety.md): street nodes where a footway, path or pedestrian
-- way meets a drivable street, and junctions of three or more segments with a tertiary or
-- greater street among them (a marked crossing assumed at such a junction).
WITH ends AS (
    SELECT source_node AS node, ST_StartPoint(geom) AS pt, highway FROM streets
    UNION ALL
    SELECT target_node, ST_EndPoint(geom), highway FROM streets
)
SELECT ST_X(min(pt)), ST_Y(min(pt))
FROM ends
GROUP BY node
HAVING (bool_or(highway IN ('footway', 'path', 'pedestrian'))
        AND bool_or(highway NOT IN ('footway', 'path', 'pedestrian')))
    OR (count(*) >= 3
        AND bool_or(highway IN ('motorway', 'arterial', 'primary', 'secondary', 'tertiary')))
