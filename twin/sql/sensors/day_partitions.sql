-- The day partitions of the observations (sta_observations_YYYYMMDD), oldest first.
SELECT c.relname
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'sta_observations'::regclass AND c.relname ~ '^sta_observations_[0-9]{{8}}$'
ORDER BY c.relname
