-- Imports that replace whole tables besides layers (`twin import-gtfs`: the timetable, gtfs_*)
-- keep those tables as they were, row by row as JSON, so `twin import undo` puts them back
-- (twin.importers.batches.keep_tables). The copies go when the batch is undone or superseded.

CREATE TABLE IF NOT EXISTS twin_import_tables (
    batch_id    bigint NOT NULL REFERENCES twin_import_batches (id) ON DELETE CASCADE,
    table_name  text NOT NULL,
    position    smallint NOT NULL,   -- restored in this order
    row_count   bigint NOT NULL,
    PRIMARY KEY (batch_id, table_name)
);

CREATE TABLE IF NOT EXISTS twin_import_table_rows (
    batch_id    bigint NOT NULL REFERENCES twin_import_batches (id) ON DELETE CASCADE,
    table_name  text NOT NULL,
    row         jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS twin_import_table_rows_batch
    ON twin_import_table_rows (batch_id, table_name);
