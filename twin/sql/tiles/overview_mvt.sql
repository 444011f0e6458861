-- One layer of a vector tile at a low zoom, from the layer's tile overview: the biggest
-- features of the envelope (already measured, in Web Mercator, simplified for zoom 13 and
-- carrying the properties their style reads as jsonb), simplified further for the zoom.
-- Shallow tiles (most of the layer in the envelope) walk the size index biggest first until the
-- cap is met; deep ones (an OFFSET 0 fence which keeps the ORDER BY out of the inner plan)
-- take the envelope's few features through the GiST index, then the biggest of them.
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
        ORDER BY o.size DESC, o.id
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
