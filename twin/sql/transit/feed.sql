-- The feed in use (none before the first import).
SELECT name, file, sha256, source, licence, synthetic, imported_at, service_start, service_end,
       details
FROM gtfs_feed
