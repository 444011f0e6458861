DELETE FROM terrain_models
