INSERT INTO twin_layers (name, source, licence, loaded_at, synthetic, details)
VALUES (%(name)s, %(source)s, %(licence)s, %(loaded_at)s, %(synthetic)s, %(details)s::jsonb)
ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, licence = EXCLUDED.licence,
    loaded_at = EXCLUDED.loaded_at, synthetic = EXCLUDED.synthetic, details = EXCLUDED.details
