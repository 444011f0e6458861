UPDATE twin_import_batches SET undone_at = now() WHERE id = %(batch)s
