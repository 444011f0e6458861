SELECT width, height, resolution_m, min_elevation, max_elevation
FROM terrain_models
ORDER BY id DESC
LIMIT 1
