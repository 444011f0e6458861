SELECT json_build_object(
    'type', 'Feature',
    'id', t.id,
    'geometry', ST_AsGeoJSON(t.geom, 15)::json,
    'properties', to_jsonb(t) - 'id' - 'geom'
)::text
FROM {table} t WHERE t.id = %(id)s
