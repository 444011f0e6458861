-- The districts' data version (twin_layers, bumped by every statement that changes the table):
-- the city's extent is worked out again only when it moves (twin/extent.py).
SELECT coalesce((SELECT l.version FROM twin_layers AS l WHERE l.name = %(layer)s), 0)
