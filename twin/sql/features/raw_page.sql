-- The hand-tuned single statement a client would send for a page of GeoJSON (the benchmark's
-- "raw SQL" baseline): json_agg over an ordered, limited subquery.
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
    json_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                      'properties', json_build_object({properties}))), '[]'::json))::text
FROM (SELECT * FROM {table} AS t WHERE {where} ORDER BY t.id LIMIT %(limit)s) AS t
