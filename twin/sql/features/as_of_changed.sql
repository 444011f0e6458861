-- The features of a versioned layer changed after %(asof_start)s, as they were during
-- [asof_start, asof_end], of those whose geometry then was within {box} (in the layer's storage
-- numbers with SRID 4326, as the history's GeoJSON parses): features/as_of restricted to them,
-- each branch led by an index (the history's GiST on its `previous` geometry, migration 0020;
-- the table's key), never by a scan of the layer nor by parsing every image since the instant.
-- 1. features changed within the window and not after it, as they are (the table row);
-- 2. features changed after the end, as the first such change found them (its `previous`;
--    none when that change created them): a change with no earlier change after the end;
-- 3. for an interval, features deleted within it, in their last version before the deletion.
(
    SELECT {columns}, false AS from_history
    FROM {table} AS c
    WHERE c.id IN (SELECT h.feature_id FROM twin_history AS h
                   WHERE h.layer = %(asof_layer)s AND h.changed_at > %(asof_start)s::timestamptz
                     AND h.changed_at <= %(asof_end)s::timestamptz)
      AND c.id NOT IN (SELECT h.feature_id FROM twin_history AS h
                       WHERE h.layer = %(asof_layer)s
                         AND h.changed_at > %(asof_end)s::timestamptz)
    UNION ALL
    SELECT {image_columns}, true
    FROM (SELECT h.previous AS image
          FROM twin_history AS h
          WHERE h.layer = %(asof_layer)s AND h.changed_at > %(asof_end)s::timestamptz
            AND h.previous IS NOT NULL
            AND ST_GeomFromGeoJSON(h.previous -> 'geom') && {box}
            AND NOT EXISTS (SELECT 1 FROM twin_history AS e
                            WHERE e.layer = h.layer AND e.feature_id = h.feature_id
                              AND e.version < h.version
                              AND e.changed_at > %(asof_end)s::timestamptz)) AS f,
         LATERAL jsonb_populate_record(NULL::{table}, f.image - 'geom') AS r
    UNION ALL
    SELECT {image_columns}, true
    FROM (SELECT h.previous AS image
          FROM twin_history AS h
          WHERE h.layer = %(asof_layer)s AND h.changed_at > %(asof_start)s::timestamptz
            AND h.changed_at <= %(asof_end)s::timestamptz
            AND h.current IS NULL AND h.previous IS NOT NULL
            AND ST_GeomFromGeoJSON(h.previous -> 'geom') && {box}
            AND NOT EXISTS (SELECT 1 FROM twin_history AS e
                            WHERE e.layer = h.layer AND e.feature_id = h.feature_id
                              AND e.version > h.version
                              AND e.changed_at <= %(asof_end)s::timestamptz)) AS f,
         LATERAL jsonb_populate_record(NULL::{table}, f.image - 'geom') AS r
)
