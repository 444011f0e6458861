-- The rows an import removed, back with their ids, values and geometries.
INSERT INTO {table} (id, {columns}{sep}geom)
SELECT r.feature_id, {source_columns}{sep}r.geom
FROM twin_import_removed r
CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, r.properties) AS p
WHERE r.batch_id = %(batch)s AND r.layer = %(layer)s
ORDER BY r.feature_id
