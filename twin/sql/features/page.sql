-- One page of features as finished GeoJSON text, built by PostgreSQL.
SELECT json_build_object(
    'type', 'Feature',
    'id', t.id,
    'geometry', ST_AsGeoJSON(t.geom, 7)::json,
    'properties', to_jsonb(t) - 'geom' - 'id'
)::text
FROM {table} AS t
WHERE ({bbox_filter})
ORDER BY t.id
LIMIT %(limit)s OFFSET %(offset)s
