-- Page-sized API queries finish in milliseconds; starting parallel workers costs more than
-- that on a busy machine, so the features statements run serially (this transaction only).
SET LOCAL max_parallel_workers_per_gather = 0
