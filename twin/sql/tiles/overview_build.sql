-- Refresh a layer's tile overview, and its state, in one statement (one snapshot, so the data
-- and the version recorded agree). A row version of the layer is its id and xmin: overview
-- rows whose row version is gone (updated, deleted, reloaded) are dropped; row versions not in
-- the overview are measured, transformed to Web Mercator once and simplified. Features under
-- the minimum size (one square screen pixel, or one pixel of length, at the overview's deepest
-- zoom) never reach a tile at that zoom or below and are left out.
WITH gone AS (
    DELETE FROM twin_tile_overview AS o
    WHERE o.layer = %(name)s
      AND NOT EXISTS (SELECT 1 FROM {table} AS t
                      WHERE t.id = o.id AND t.xmin::text::bigint = o.row_xmin)
    RETURNING 1
),
measured AS (
    SELECT t.id, t.xmin::text::bigint AS row_xmin, m.geom, {size} AS size,
           {properties} AS properties
    FROM {table} AS t
    CROSS JOIN LATERAL (SELECT ST_Transform(t.geom, 3857) AS geom) AS m
    WHERE NOT EXISTS (SELECT 1 FROM twin_tile_overview AS o
                      WHERE o.layer = %(name)s AND o.id = t.id
                        AND o.row_xmin = t.xmin::text::bigint)
),
added AS (
    INSERT INTO twin_tile_overview (layer, id, row_xmin, size, geom, properties)
    SELECT %(name)s, id, row_xmin, size, ST_Simplify(geom, %(tolerance)s, true), properties
    FROM measured
    WHERE size >= %(min_size)s
    ORDER BY geom  -- along a space-filling curve: a tile's rows sit together on disk
    RETURNING 1
),
counts AS (
    SELECT (SELECT count(*) FROM added) AS added, (SELECT count(*) FROM gone) AS gone
)
INSERT INTO twin_tile_overview_state AS s (layer, version, features, built_at, seconds)
SELECT %(name)s, COALESCE((SELECT version FROM twin_layers WHERE name = %(name)s), 0),
       COALESCE((SELECT features FROM twin_tile_overview_state WHERE layer = %(name)s), 0)
           + c.added - c.gone,
       now(), extract(epoch FROM clock_timestamp() - transaction_timestamp())
FROM counts AS c
ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version, features = EXCLUDED.features,
                                  built_at = EXCLUDED.built_at, seconds = EXCLUDED.seconds
RETURNING (SELECT added FROM counts), (SELECT gone FROM counts), s.features
