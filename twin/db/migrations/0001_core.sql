-- Core of the twin: PostGIS, layer metadata with provenance and a data version per layer.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE IF NOT EXISTS twin_layers (
    name        text PRIMARY KEY,
    version     bigint NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    source      text,
    licence     text,
    loaded_at   timestamptz,
    synthetic   boolean NOT NULL DEFAULT false,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Every statement that changes a layer table bumps its version: caches (tiles, the walking
-- graph, analysis) key on it, so any change, even plain SQL, invalidates them.
CREATE OR REPLACE FUNCTION twin_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO twin_layers (name, version, changed_at) VALUES (TG_TABLE_NAME, 1, now())
    ON CONFLICT (name) DO UPDATE SET version = twin_layers.version + 1, changed_at = now();
    RETURN NULL;
END $$;
