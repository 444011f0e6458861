-- `twin load demo` replaced these layers: the imports into them have nothing left to undo.
UPDATE twin_import_batches b SET superseded_at = now()
WHERE b.undone_at IS NULL AND b.superseded_at IS NULL
  AND EXISTS (SELECT 1 FROM twin_import_layers l
              WHERE l.batch_id = b.id AND l.layer = ANY(%(layers)s))
