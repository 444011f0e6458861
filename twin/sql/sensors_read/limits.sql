-- A read's bounds, for its transaction only: how long its statements may run.
SELECT set_config('statement_timeout', %(timeout_ms)s, true)
