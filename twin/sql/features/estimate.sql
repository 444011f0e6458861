-- The planner's estimate of how many features a query matches (no rows are read).
EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} AS t WHERE {where}
