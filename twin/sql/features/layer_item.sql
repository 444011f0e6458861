-- One feature of a read-only layer as GeoJSON text built by PostgreSQL, with the layer's data
-- version (twin_layers, bumped by the layer's statement trigger in the changing transaction)
-- from the same snapshot, for the ETag "L<version>": one primary-key lookup more.
SELECT {feature},
       coalesce((SELECT l.version FROM twin_layers AS l WHERE l.name = %(layer)s), 0)
FROM {table} AS t
WHERE t.id = %(id)s
