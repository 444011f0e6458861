-- The data version of a read-only layer (twin_layers), or no row when the feature does not
-- exist now: the ETag "L<version>" of an item page pygeoapi renders.
SELECT coalesce((SELECT l.version FROM twin_layers AS l WHERE l.name = %(layer)s), 0)
FROM {table} AS t
WHERE t.id = %(id)s
