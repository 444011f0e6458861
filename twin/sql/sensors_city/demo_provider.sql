-- A demo data provider (kept when it exists, so its sensor keys stay valid).
INSERT INTO sta_providers (name, description) VALUES (%(name)s, %(description)s)
ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description
RETURNING id;
