SELECT json_build_object(
    'type', 'Feature',
    'id', t.id,
    'geometry', ST_AsGeoJSON(t.geom, 7)::json,
    'properties', to_jsonb(t) - 'geom' - 'id'
)::text
FROM {table} AS t
WHERE t.id = %(id)s
