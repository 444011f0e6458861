-- One layer of a low-zoom vector tile as of a time (`datetime=` on a versioned layer): the
-- tile overview's rows of the features with no change after the window's start (they are as
-- they were), and the few features changed since, read as they were from the history and the
-- table's key (features/as_of_changed, alias t: never a scan of the layer) and measured,
-- transformed and simplified as the overview does it. {own_time} keeps, of both, the features
-- whose own time (the layer's `temporal:`) had begun by the window's end. Then the biggest of
-- both, as tiles/overview_mvt.
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
                  AND o.id NOT IN (SELECT h.feature_id FROM twin_history AS h
                                   WHERE h.layer = %(asof_layer)s
                                     AND h.changed_at > %(asof_start)s::timestamptz)
                  AND {not_begun}
                UNION ALL
                SELECT r.id, r.geom, r.size, r.properties
                FROM (
                    SELECT t.id, ST_Simplify(m.geom, {overview_tolerance}, true) AS geom,
                           {size} AS size, {properties} AS properties
                    FROM {relation} AS t
                    CROSS JOIN LATERAL (SELECT ST_Transform(t.geom, 3857) AS geom) AS m
                    WHERE t.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                                                                 margin => 0.015625), {srid})
                      AND {own_time}
                ) AS r
                WHERE r.size >= {overview_min}
            ) AS c
            WHERE c.size >= {min_size}
            ORDER BY c.size DESC, c.id
            LIMIT {cap}
        ) AS o
        ORDER BY o.size DESC, o.id
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)
