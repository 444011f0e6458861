SELECT l.version, m.id, m.loaded_at
FROM terrain_models m
LEFT JOIN twin_layers l ON l.name = 'terrain'
ORDER BY m.id DESC
LIMIT 1
