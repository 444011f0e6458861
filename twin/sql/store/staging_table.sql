CREATE TEMP TABLE {staging} ({column_definitions}g geometry) ON COMMIT DROP
