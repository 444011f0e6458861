SELECT table_name, row_count FROM twin_import_tables
WHERE batch_id = %(batch)s ORDER BY position
