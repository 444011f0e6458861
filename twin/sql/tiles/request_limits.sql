-- Bounds for one tile request (inside its transaction): a tile waiting on a layer being
-- rewritten (an import holds its lock) gives up and says so instead of hanging a worker. No
-- parallel workers: a tile is a few milliseconds of work, less than starting them costs, and
-- the cores are better spent on other tiles.
SELECT set_config('lock_timeout', %(lock_ms)s, true),
       set_config('statement_timeout', %(statement_ms)s, true),
       set_config('max_parallel_workers_per_gather', '0', true)
