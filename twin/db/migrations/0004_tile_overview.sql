-- Low-zoom generalisation of the vector tiles (twin/tiles/overview.py): for each polygon and
-- line layer, every feature big enough to be seen at zoom 13 or below, with its size (area or
-- length in Web Mercator units) and its geometry already in Web Mercator and simplified to one
-- screen pixel at zoom 13. A tile at zoom 10-13 then reads the biggest features of its
-- envelope from here instead of measuring, transforming and simplifying every row of the
-- layer. Rebuilt per layer when the layer's data version moves (twin_tile_overview_state).
CREATE EXTENSION IF NOT EXISTS btree_gist;  -- one GiST index on (layer, geom)

CREATE TABLE IF NOT EXISTS twin_tile_overview (
    layer text NOT NULL,
    id    bigint NOT NULL,
    size  double precision NOT NULL,
    geom  geometry(Geometry, 3857) NOT NULL
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
