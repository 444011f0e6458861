-- The terrain model: one Cloud-Optimized GeoTIFF (EPSG:32643, float32 metres, NaN = no data)
-- kept in the database so a dump or a second server carries it; readers materialise it to
-- TWIN_HOME/cache/terrain-<version>.tif (twin/terrain.py). Only the newest row is current.
CREATE TABLE IF NOT EXISTS terrain_models (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crs            text NOT NULL,
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    resolution_m   double precision NOT NULL CHECK (resolution_m > 0),
    bounds         geometry(Polygon, 4326) NOT NULL,
    min_elevation  double precision,
    max_elevation  double precision,
    cog            bytea NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now()
);
