-- The incoming rows' keys (geometry as the layer stores it, and name) for duplicate checks.
DROP TABLE IF EXISTS pg_temp.twin_import_keys;
CREATE TEMP TABLE twin_import_keys (i integer, name text, g geometry) ON COMMIT DROP
