-- The table as the batch found it (after empty_table.sql): the kept rows come back.
INSERT INTO {table}
SELECT (jsonb_populate_record(NULL::{table}, r.row)).*
FROM twin_import_table_rows r
WHERE r.batch_id = %(batch)s AND r.table_name = %(name)s
