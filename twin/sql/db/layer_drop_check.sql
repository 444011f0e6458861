-- A property whose catalog values were taken away takes any value again.
ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}
