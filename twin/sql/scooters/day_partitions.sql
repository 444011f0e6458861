-- The day partitions of the positions (scooter_positions_YYYYMMDD), oldest first.
SELECT c.relname
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'scooter_positions'::regclass
  AND c.relname ~ '^scooter_positions_[0-9]{{8}}$'
ORDER BY c.relname
