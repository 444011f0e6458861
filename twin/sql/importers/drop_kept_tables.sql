-- Nothing left to undo (undone, or superseded by `twin load demo`): the copies go.
DELETE FROM twin_import_table_rows r
USING twin_import_batches b
WHERE r.batch_id = b.id AND (b.undone_at IS NOT NULL OR b.superseded_at IS NOT NULL)
