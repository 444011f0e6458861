INSERT INTO twin_import_rows (batch_id, layer, feature_id)
SELECT %(batch)s, %(layer)s, id FROM {table} WHERE id > %(max_before)s
