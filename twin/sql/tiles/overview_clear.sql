-- Forget a layer's tile overview (inside the rebuild's transaction).
DELETE FROM twin_tile_overview WHERE layer = %(name)s
