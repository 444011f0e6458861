-- One layer of a vector tile holding only the features whose properties equal the tile
-- request's filters (the catalog's tiles.filters: plan_cells?plan=ID). Read from
-- the layer table at every zoom (a filtered set is small: one plan's cells), simplified for
-- the zoom like tiles/layer_mvt.
COALESCE((
    SELECT ST_AsMVT(tile.*, {layer_name}, 4096, 'geom', 'id')
    FROM (
        SELECT {attributes},
               ST_AsMVTGeom(ST_Transform({generalised}, 3857),
                            ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
        FROM (
            SELECT t.*, {size} AS twin_size
            FROM {table} AS t
            WHERE t.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                                                         margin => 0.015625), {srid})
              AND {condition}
        ) AS t
        WHERE t.twin_size >= {min_size}
        ORDER BY t.twin_size DESC, t.id
        LIMIT {cap}
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
