SELECT json_build_object('type', 'Feature', 'id', a.id, 'geometry', a.geometry,
                         'properties', a.properties)::text
FROM twin_layer_as_of(%(layer)s, %(instant)s) a
WHERE {bbox_filter}
ORDER BY a.id
LIMIT %(limit)s OFFSET %(offset)s
