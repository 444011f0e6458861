-- Whether this server is a hot standby (a streaming replica replaying its primary's WAL).
SELECT pg_is_in_recovery()
