-- A dated tile's statement runs without parallel workers (for the caller's transaction only):
-- the planner cannot know how few features changed since the instant (its history rows are
-- estimated at one), and a worker launched for a tile of a few thousand rows costs more than
-- the tile on a busy machine (docs/changes.md, "datetime on tiles").
SELECT set_config('max_parallel_workers_per_gather', '0', true)
