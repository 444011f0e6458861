SELECT name, version, changed_at, source, licence, loaded_at, synthetic, details FROM twin_layers
