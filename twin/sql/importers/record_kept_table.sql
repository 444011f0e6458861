INSERT INTO twin_import_tables (batch_id, table_name, position, row_count)
SELECT %(batch)s, %(name)s, %(position)s, count(*)
FROM twin_import_table_rows WHERE batch_id = %(batch)s AND table_name = %(name)s
