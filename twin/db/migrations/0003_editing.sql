-- Editing the twin safely: API keys of editors and admins, and the full change history of the
-- versioned layers (plots, buildings, parks, amenities, utility_lines).
--
-- History is written by triggers, not by the API, so a change made with plain SQL is kept too.
-- The acting user is read from the transaction-local setting twin.user (set by the API with
-- set_config('twin.user', name, true)); without it, the database role is recorded. The
-- operation name comes from twin.operation (create, replace, update, delete, restore) or else
-- from the SQL command (insert, update, delete, truncate).

CREATE TABLE IF NOT EXISTS twin_users (
    name        text PRIMARY KEY,
    role        text NOT NULL CHECK (role IN ('editor', 'admin')),
    layers      text[] NOT NULL DEFAULT '{}',
    key_id      text NOT NULL UNIQUE,
    key_salt    bytea NOT NULL,
    key_hash    bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE IF NOT EXISTS twin_history (
    change_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer       text NOT NULL,
    feature_id  bigint NOT NULL,
    version     integer NOT NULL,
    operation   text NOT NULL,
    actor       text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    txid        bigint NOT NULL DEFAULT txid_current(),
    previous    jsonb,
    current     jsonb,
    UNIQUE (layer, feature_id, version)
);
CREATE INDEX IF NOT EXISTS twin_history_layer_time ON twin_history (layer, changed_at);

-- One feature row as it is kept in history: its columns, the geometry as GeoJSON with 15
-- decimals (lossless for degrees), so a version can be shown and restored as it was.
CREATE OR REPLACE FUNCTION twin_row_image(row_data jsonb, geom geometry) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT (row_data - 'geom') || jsonb_build_object('geom', ST_AsGeoJSON(geom, 15)::jsonb)
$$;

CREATE OR REPLACE FUNCTION twin_history_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('twin.user', true), ''), 'sql:' || session_user)
$$;

CREATE OR REPLACE FUNCTION twin_history_operation(fallback text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('twin.operation', true), ''), fallback)
$$;

-- The trigger functions themselves live in twin/sql/editing/history_functions.sql, applied by
-- twin.editing.history.install_history whenever that file changes.

-- A versioned layer as it was at an instant: for each feature the newest version written at or
-- before the instant (none when it was deleted), plus features that have no history at all
-- (loaded before history was kept, so unchanged since). Rows: id, properties, GeoJSON geometry.
CREATE OR REPLACE FUNCTION twin_layer_as_of(layer_name text, instant timestamptz)
RETURNS TABLE (id bigint, properties jsonb, geometry jsonb) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT v.feature_id, (v.current - 'id' - 'geom'), v.current -> 'geom'
    FROM (SELECT DISTINCT ON (h.feature_id) h.feature_id, h.current
          FROM twin_history h
          WHERE h.layer = layer_name AND h.changed_at <= instant
          ORDER BY h.feature_id, h.version DESC) v
    WHERE v.current IS NOT NULL;
    RETURN QUERY EXECUTE format(
        'SELECT t.id, (to_jsonb(t) - ''id'' - ''geom''), ST_AsGeoJSON(t.geom, 15)::jsonb
         FROM %I t
         WHERE NOT EXISTS (SELECT 1 FROM twin_history h
                           WHERE h.layer = %L AND h.feature_id = t.id)', layer_name, layer_name);
END $$;

-- Where the versioned layers changed since an instant (e.g. since the last analysis run): the
-- footprints before and after each change. Analysis results (plot_metrics, fifteen_cells)
-- computed before `since` are stale inside this area; edits stay cheap because nothing else
-- is written at edit time.
CREATE OR REPLACE FUNCTION twin_changed_area(since timestamptz)
RETURNS TABLE (layer text, area geometry) LANGUAGE sql STABLE AS $$
    SELECT h.layer, ST_Envelope(ST_Collect(g)) FROM twin_history h,
        LATERAL (SELECT ST_SetSRID(ST_GeomFromGeoJSON(h.previous -> 'geom'), 4326) AS g
                 WHERE h.previous IS NOT NULL
                 UNION ALL
                 SELECT ST_SetSRID(ST_GeomFromGeoJSON(h.current -> 'geom'), 4326)
                 WHERE h.current IS NOT NULL) geoms
    WHERE h.changed_at > since
    GROUP BY h.layer
$$;
