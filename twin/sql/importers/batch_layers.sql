SELECT layer, mode, added, removed, provenance_before FROM twin_import_layers
WHERE batch_id = %(batch)s ORDER BY layer
