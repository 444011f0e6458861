-- A versioned layer as it was during [asof_start, asof_end] (an instant when they are equal),
-- rebuilt from twin_history, with the layer's own columns so every items clause applies to it:
-- 1. rows of the table not changed after the end (unchanged since, whether or not they have
--    any history: rows bulk-loaded before history was kept included);
-- 2. features changed after the end, as the first such change found them (its `previous`;
--    none when that change created them);
-- 3. for an interval, features deleted within it, in their last version before the deletion.
-- The UNION ALL stays flat (branches of identical types, the NOT IN outside it as a hashed
-- subplan), so ordered pages merge the layer's id index and bboxes use its GiST index.
(
    SELECT * FROM (
        SELECT {columns}, false AS from_history
        FROM {table} AS c
        UNION ALL
        SELECT {image_columns}, true
        FROM (SELECT DISTINCT ON (h.feature_id) h.previous AS image
              FROM twin_history AS h
              WHERE h.layer = %(asof_layer)s AND h.changed_at > %(asof_end)s::timestamptz
              ORDER BY h.feature_id, h.version) AS f,
             LATERAL jsonb_populate_record(NULL::{table}, f.image - 'geom') AS r
        WHERE f.image IS NOT NULL
        UNION ALL
        SELECT {image_columns}, true
        FROM (SELECT DISTINCT ON (h.feature_id) h.previous AS image, h.current
              FROM twin_history AS h
              WHERE h.layer = %(asof_layer)s AND h.changed_at > %(asof_start)s::timestamptz
                AND h.changed_at <= %(asof_end)s::timestamptz
              ORDER BY h.feature_id, h.version DESC) AS f,
             LATERAL jsonb_populate_record(NULL::{table}, f.image - 'geom') AS r
        WHERE f.current IS NULL AND f.image IS NOT NULL
    ) AS u
    WHERE u.from_history OR u.id NOT IN (SELECT h.feature_id FROM twin_history AS h
                                         WHERE h.layer = %(asof_layer)s
                                           AND h.changed_at > %(asof_end)s::timestamptz)
)
