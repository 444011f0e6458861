INSERT INTO twin_layers (name, version, changed_at) VALUES ('terrain', 1, now())
ON CONFLICT (name) DO UPDATE SET version = twin_layers.version + 1, changed_at = now()
RETURNING version
