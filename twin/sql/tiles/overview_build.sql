-- A layer's tile overview and its state in one statement, so the data and the version recorded
-- come from one snapshot. Each feature is transformed to Web Mercator once; those under
-- the minimum size (one square screen pixel, or one pixel of length, at the overview's deepest zoom)
-- never reach a tile at that zoom or below and are left out.
WITH measured AS (
    SELECT t.id, m.geom, {size} AS size
    FROM {table} AS t
    CROSS JOIN LATERAL (SELECT ST_Transform(t.geom, 3857) AS geom) AS m
),
kept AS (
    INSERT INTO twin_tile_overview (layer, id, size, geom)
    SELECT %(name)s, id, size, ST_Simplify(geom, %(tolerance)s, true)
    FROM measured
    WHERE size >= %(min_size)s
    ORDER BY geom  -- along a space-filling curve: a tile's rows sit together on disk
    RETURNING 1
)
INSERT INTO twin_tile_overview_state (layer, version, features, built_at, seconds)
SELECT %(name)s, COALESCE((SELECT version FROM twin_layers WHERE name = %(name)s), 0),
       (SELECT count(*) FROM kept), now(),
       extract(epoch FROM clock_timestamp() - transaction_timestamp())
ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version, features = EXCLUDED.features,
                                  built_at = EXCLUDED.built_at, seconds = EXCLUDED.seconds
