-- A standby's replication state: in recovery, the WAL position replayed, and the age in seconds
-- of the last transaction replayed (NULL on a primary or before the first replay).
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn()::text,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
