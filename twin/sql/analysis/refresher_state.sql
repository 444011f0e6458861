-- The refresher's session names what it is doing (pg_stat_activity.application_name), so any
-- server (and `twin bench`) can tell a refresher still building its start-up analysis from one
-- that is ready.
SELECT set_config('application_name', %(name)s, false)
