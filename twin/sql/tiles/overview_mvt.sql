-- One layer of a vector tile at a low zoom, from the layer's tile overview: the biggest
-- features of the envelope (already measured, in Web Mercator and simplified for zoom 13),
-- simplified further for the zoom and joined to the layer for the properties the zoom keeps.
COALESCE((
    SELECT ST_AsMVT(tile.*, {layer_name}, 4096, 'geom', 'id')
    FROM (
        SELECT {attributes},
               ST_AsMVTGeom({generalised}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64,
                            true) AS geom
        FROM (
            SELECT o.id, o.geom, o.size
            FROM twin_tile_overview AS o
            WHERE o.layer = {layer_name}
              AND o.geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625)
              AND o.size >= {min_size}
            ORDER BY o.size DESC, o.id
            LIMIT {cap}
        ) AS o
        JOIN {table} AS t ON t.id = o.id
        ORDER BY o.size DESC, o.id
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
