-- Remove the rows in scope, keeping each as it was for `twin import undo`.
WITH gone AS (DELETE FROM {table} AS t WHERE {where} RETURNING t.*)
INSERT INTO twin_import_removed (batch_id, layer, feature_id, properties, geom)
SELECT %(batch)s, %(layer)s, gone.id, to_jsonb(gone) - 'id' - 'geom', gone.geom FROM gone
