SELECT id, command, file, source, started_at, undone_at, superseded_at FROM twin_import_batches
WHERE undone_at IS NULL AND superseded_at IS NULL ORDER BY id DESC LIMIT 1
