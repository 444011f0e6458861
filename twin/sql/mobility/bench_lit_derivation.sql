-- Raw SQL for `twin bench mobility`: each street lit when >= 75% of its length lies within 15 m
-- of a lighting line (metres in UTM 43N; lines found through the GiST index).
WITH s AS (SELECT id, geom, ST_Transform(geom, 32643) AS g FROM streets)
SELECT s.id, coalesce(ST_Length(ST_Intersection(s.g, z.zone)) >= 0.75 * ST_Length(s.g), false)
FROM s
LEFT JOIN LATERAL (
    SELECT ST_Union(ST_Buffer(ST_Transform(l.geom, 32643), 15)) AS zone
    FROM utility_lines l
    WHERE l.network = 'lighting' AND l.geom && ST_Expand(s.geom, 0.0003)
) z ON true
