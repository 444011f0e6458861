SELECT source_node, target_node, length_m, coalesce(lit, false) AS lit,
       ST_X(ST_StartPoint(geom)) AS x0, ST_Y(ST_StartPoint(geom)) AS y0,
       ST_X(ST_EndPoint(geom)) AS x1, ST_Y(ST_EndPoint(geom)) AS y1,
       steps, kerb  -- null: unknown (twin.analysis.profiles)
FROM streets
WHERE walkable AND source_node <> target_node
