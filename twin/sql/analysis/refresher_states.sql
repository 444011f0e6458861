-- What the running refreshers say they are doing (see refresher_state.sql).
SELECT application_name FROM pg_stat_activity
WHERE application_name LIKE %(prefix)s AND datname = current_database()
