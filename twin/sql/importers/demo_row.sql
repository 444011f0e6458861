-- A row `twin load demo` wrote and nobody changed since: no import added it, and its history
-- holds no change but imports' and their undos' (the demo writes no history; an editor's
-- create, update or restore, through the API or plain SQL, does).
(NOT EXISTS (SELECT 1 FROM twin_import_rows r WHERE r.layer = %(layer)s AND r.feature_id = t.id)
 AND NOT {edited})
