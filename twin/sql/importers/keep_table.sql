-- A whole table as it is before an import replaces it (restore_table.sql puts it back).
INSERT INTO twin_import_table_rows (batch_id, table_name, row)
SELECT %(batch)s, %(name)s, to_jsonb(t) FROM {table} t
