-- Bounds for one tile request (inside its transaction): a tile waiting on a layer being
-- rewritten (an import holds its lock) gives up and says so instead of hanging a worker.
SELECT set_config('lock_timeout', %(lock_ms)s, true),
       set_config('statement_timeout', %(statement_ms)s, true)
