-- Drop a layer's tile overview and its state: the next tile render rebuilds it from scratch
-- (used when the properties the overview carries changed with the catalog).
WITH dropped AS (DELETE FROM twin_tile_overview WHERE layer = %(name)s RETURNING 1)
DELETE FROM twin_tile_overview_state WHERE layer = %(name)s
RETURNING (SELECT count(*) FROM dropped)
