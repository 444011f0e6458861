INSERT INTO twin_layers (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING
