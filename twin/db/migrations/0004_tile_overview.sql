-- Low-zoom generalisation of the vector tiles (twin/tiles/overview.py): for each polygon and
-- line layer, every feature big enough to be seen at zoom 13 or below, with its size (area or
-- length in Web Mercator units), its geometry already in Web Mercator and simplified to one
-- screen pixel at zoom 13, and the properties its style reads (all a low-zoom tile carries).
-- A tile at zoom 10-13 then reads the biggest features of its envelope from here instead of
-- measuring, transforming and simplifying every row of the layer, and never touches the layer
-- table. Refreshed per layer when the layer's data version moves (twin_tile_overview_state):
-- rows whose source row version is gone are dropped and new row versions added, so an edit
-- costs a comparison of ids, not a rebuild.
CREATE EXTENSION IF NOT EXISTS btree_gist;  -- one GiST index on (layer, geom)

CREATE TABLE IF NOT EXISTS twin_tile_overview (
    layer text NOT NULL,
    id    bigint NOT NULL,
    row_xmin bigint NOT NULL,        -- the source row version (xmin): what a refresh compares
    size  double precision NOT NULL,
    geom  geometry(Geometry, 3857) NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- deep tiles (few of a layer's features in the envelope): the layer's features there, then sort
CREATE INDEX IF NOT EXISTS twin_tile_overview_geom ON twin_tile_overview USING gist (layer, geom);
-- shallow tiles (most of the layer in the envelope): the layer's biggest first, envelope checked
CREATE INDEX IF NOT EXISTS twin_tile_overview_size ON twin_tile_overview (layer, size DESC, id);

CREATE TABLE IF NOT EXISTS twin_tile_overview_state (
    layer    text PRIMARY KEY,
    version  bigint NOT NULL,
    features bigint NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now(),
    seconds  double precision NOT NULL
);
