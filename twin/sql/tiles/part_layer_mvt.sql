-- The part of a tile read from the layer table (tiles/layer_mvt) that one map tile draws: the
-- same features, chosen over the whole tile (big enough to see, at most {cap}, biggest
-- first), of which only those that touch the part's envelope %(part_z)s/%(part_x)s/%(part_y)s
-- (a child tile, with a margin) are simplified, transformed and encoded, in tile coordinates
-- of the whole tile (see tiles/part_overview_mvt).
COALESCE((
    SELECT ST_AsMVT(tile.*, {layer_name}, 4096, 'geom', 'id')
    FROM (
        SELECT {attributes},
               ST_AsMVTGeom(ST_Transform({generalised}, 3857),
                            ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
        FROM (
            SELECT t.*
            FROM (
                SELECT t.*, {size} AS twin_size
                FROM {table} AS t
                WHERE t.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                                                             margin => 0.015625), {srid})
            ) AS t
            WHERE t.twin_size >= {min_size}
            ORDER BY t.twin_size DESC, t.id
            LIMIT {cap}
        ) AS t
        WHERE t.geom && ST_Transform(ST_TileEnvelope(%(part_z)s, %(part_x)s, %(part_y)s,
                                                     margin => %(part_margin)s), {srid})
        ORDER BY t.twin_size DESC, t.id
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
