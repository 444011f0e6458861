-- The single statement a hand-tuned client sends for one layer's tile: index-filtered by the
-- envelope (with the 64-unit buffer's margin) in the storage SRID, every property, no
-- generalisation (the benchmark's baseline).
SELECT ST_AsMVT(tile.*, %(layer_name)s, 4096, 'geom', 'id')
FROM (
    SELECT {columns}, ST_AsMVTGeom(ST_Transform(t.geom, 3857),
                                   ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom
    FROM {table} AS t
    WHERE t.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625),
                               %(srid)s)
) AS tile
WHERE tile.geom IS NOT NULL
