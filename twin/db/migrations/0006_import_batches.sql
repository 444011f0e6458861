-- Imports that can be scoped and undone (`twin import`, `twin import-osm`, `twin import undo`).
--
-- Each import command that writes is one batch. A batch remembers, per layer, which rows it
-- added (so the next import of the same source replaces only those) and a copy of the rows it
-- removed (so `twin import undo` puts them back as they were, with their ids), plus the
-- layer's provenance before it and the layer's data version after it (an undo is refused when
-- someone changed the layer since). A row of a layer still marked synthetic that no batch added
-- and no editor changed (twin_history) is the demo's: a replace supersedes it (batches.py).

CREATE TABLE IF NOT EXISTS twin_import_batches (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command     text NOT NULL,                 -- import, import-osm
    file        text NOT NULL,
    source      text NOT NULL,                 -- the scope key: rows of the same source
    actor       text NOT NULL DEFAULT session_user,
    started_at  timestamptz NOT NULL DEFAULT now(),
    undone_at   timestamptz,
    -- `twin load demo` replaced the batch's layers since: nothing of it is left to undo
    superseded_at timestamptz
);

CREATE TABLE IF NOT EXISTS twin_import_layers (
    batch_id          bigint NOT NULL REFERENCES twin_import_batches (id) ON DELETE CASCADE,
    layer             text NOT NULL,
    mode              text NOT NULL,            -- replace, replace-layer, append
    scope             jsonb NOT NULL DEFAULT '{}'::jsonb,
    added             integer NOT NULL DEFAULT 0,
    removed           integer NOT NULL DEFAULT 0,
    skipped           integer NOT NULL DEFAULT 0,
    rejected          integer NOT NULL DEFAULT 0,
    provenance_before jsonb,
    PRIMARY KEY (batch_id, layer)
);

-- The rows a batch added (feature ids of the layer table).
CREATE TABLE IF NOT EXISTS twin_import_rows (
    batch_id    bigint NOT NULL REFERENCES twin_import_batches (id) ON DELETE CASCADE,
    layer       text NOT NULL,
    feature_id  bigint NOT NULL,
    PRIMARY KEY (layer, feature_id, batch_id)
);
CREATE INDEX IF NOT EXISTS twin_import_rows_batch ON twin_import_rows (batch_id, layer);

-- The rows a batch removed, as they were: properties as JSON, the geometry as it was stored.
CREATE TABLE IF NOT EXISTS twin_import_removed (
    batch_id    bigint NOT NULL REFERENCES twin_import_batches (id) ON DELETE CASCADE,
    layer       text NOT NULL,
    feature_id  bigint NOT NULL,
    properties  jsonb NOT NULL,
    geom        geometry NOT NULL,
    PRIMARY KEY (batch_id, layer, feature_id)
);

-- The data version each layer had when an import or an undo last left it: an undo compares
-- it with twin_layers.version to see whether anyone changed the layer since.
CREATE TABLE IF NOT EXISTS twin_import_layer_versions (
    layer    text PRIMARY KEY,
    version  bigint NOT NULL
);
