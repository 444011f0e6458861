-- The hand-tuned single statement for one feature as GeoJSON (the benchmark's baseline).
SELECT json_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                         'properties', json_build_object({properties}))::text
FROM {table} AS t
WHERE t.id = %(id)s
