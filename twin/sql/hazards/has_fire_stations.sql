-- Whether the fire_stations layer exists (a database migrated before it was added has none).
SELECT to_regclass('fire_stations') IS NOT NULL
