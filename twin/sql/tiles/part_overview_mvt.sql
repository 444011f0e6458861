-- The part of a low-zoom tile (tiles/overview_mvt) that one map tile draws: the same features,
-- chosen over the whole tile (biggest first, the same cap), of which only those that touch
-- the part's envelope %(part_z)s/%(part_x)s/%(part_y)s (a child tile, with a margin for
-- strokes and circles drawn across its edge) are clipped and encoded, in tile coordinates of
-- the whole tile. The map renderer reads it (twin/maps/render.py): a 256 px map tile at zoom
-- z draws the zoom z-1 vector tiles, of which it shows one quarter.
COALESCE((
    SELECT ST_AsMVT(tile.*, {layer_name}, 4096, 'geom', 'id')
    FROM (
        SELECT o.id, o.properties,
               ST_AsMVTGeom({generalised}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64,
                            true) AS geom
        FROM (
            SELECT c.* FROM (
                SELECT o.id, o.geom, o.size, o.properties
                FROM twin_tile_overview AS o
                WHERE o.layer = {layer_name}
                  AND o.geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625)
                  AND o.size >= {min_size}
                {fence}
            ) AS c
            ORDER BY c.size DESC, c.id
            LIMIT {cap}
        ) AS o
        WHERE o.geom && ST_TileEnvelope(%(part_z)s, %(part_x)s, %(part_y)s,
                                        margin => %(part_margin)s)
        ORDER BY o.size DESC, o.id
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
