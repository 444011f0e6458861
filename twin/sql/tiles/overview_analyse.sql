-- Fresh planner statistics after a rebuild (size and envelope selectivity per layer).
ANALYZE twin_tile_overview
