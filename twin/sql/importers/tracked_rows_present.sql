-- Whether any row of the layer was added by a recorded import.
SELECT EXISTS (SELECT 1 FROM twin_import_rows r JOIN {table} t ON t.id = r.feature_id
               WHERE r.layer = %(layer)s)
