-- One feature as GeoJSON text built by PostgreSQL.
SELECT {feature}
FROM {table} AS t
WHERE t.id = %(id)s
