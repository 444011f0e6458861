-- A layer's data version (twin_layers, bumped by every statement that changes its table): the
-- ETag of a download names it, so any change, even plain SQL, makes a new one.
SELECT coalesce((SELECT l.version FROM twin_layers AS l WHERE l.name = %(layer)s), 0)
