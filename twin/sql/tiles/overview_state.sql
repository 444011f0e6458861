-- Each layer's data version beside the version its tile overview was built from (NULL: never).
SELECT n.name, COALESCE(l.version, 0), s.version
FROM unnest(%(names)s::text[]) AS n(name)
LEFT JOIN twin_layers AS l ON l.name = n.name
LEFT JOIN twin_tile_overview_state AS s ON s.layer = n.name
