-- One layer of a vector tile, generalised for the zoom (twin/tiles/vector.py composes the parts).
-- The tile envelope is transformed to the storage SRID once, so the GiST index filters rows;
-- only the rows kept (big enough to see, at most {cap} of them, biggest first) are simplified,
-- transformed to Web Mercator and clipped by ST_AsMVTGeom.
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
        ) AS t
        WHERE t.twin_size >= {min_size}
        ORDER BY t.twin_size DESC, t.id
        LIMIT {cap}
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
