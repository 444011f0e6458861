-- A layer written twice in one transaction (the demo's stops, then its GTFS feed's) reuses
-- the name: the first staging table is dropped at commit only.
DROP TABLE IF EXISTS pg_temp.{staging};
CREATE TEMP TABLE {staging} ({column_definitions}g geometry) ON COMMIT DROP
