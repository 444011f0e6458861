-- Page-sized API queries finish in milliseconds; starting parallel workers costs more than
-- that on a busy machine, so the features statements run serially; and each is planned for
-- its own values (a bbox's selectivity decides between the GiST and the id index), not with
-- the generic plan PostgreSQL would switch a prepared statement to (this transaction only).
SELECT set_config('max_parallel_workers_per_gather', '0', true),
       set_config('plan_cache_mode', 'force_custom_plan', true)
