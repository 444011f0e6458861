-- The rows an import replaces: those the same source brought before (still in the layer, from
-- batches not undone), or every row of a layer loaded entirely by that source before imports
-- were recorded (legacy); for amenities only the categories the file brings. (The demo's rows
-- the import supersedes are another condition: demo_scope.sql.)
(t.id IN (SELECT r.feature_id FROM twin_import_rows r
          JOIN twin_import_batches b ON b.id = r.batch_id
          WHERE r.layer = %(layer)s AND b.source = %(source)s AND b.undone_at IS NULL)
 OR %(legacy)s)
AND (%(scope_values)s::text[] IS NULL OR t.{scope_column}::text = ANY(%(scope_values)s::text[]))
