-- The streets a fire engine drives (every class but pedestrian ways, footways and paths),
-- with their class and end points (lon/lat), for the drive-time graph (twin/hazards/fire.py).
SELECT source_node, target_node, length_m, highway,
       ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)),
       ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom))
FROM streets
WHERE highway NOT IN ('pedestrian', 'footway', 'path') AND source_node <> target_node
