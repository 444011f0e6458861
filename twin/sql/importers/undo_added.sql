DELETE FROM {table} AS t USING twin_import_rows r
WHERE r.batch_id = %(batch)s AND r.layer = %(layer)s AND t.id = r.feature_id
