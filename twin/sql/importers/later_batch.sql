-- A later import, not undone, of one of the same layers: it has to be undone first.
SELECT b.id, l.layer FROM twin_import_batches b JOIN twin_import_layers l ON l.batch_id = b.id
WHERE b.id > %(batch)s AND b.undone_at IS NULL AND b.superseded_at IS NULL
  AND l.layer = ANY(%(layers)s)
ORDER BY b.id DESC LIMIT 1
