SELECT id, command, file, source, started_at, undone_at, superseded_at FROM twin_import_batches
WHERE id = %(batch)s
