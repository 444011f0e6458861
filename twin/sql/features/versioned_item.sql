-- One feature of a versioned layer as GeoJSON text built by PostgreSQL, with its version: the
-- last change twin_history holds for it (0 when none), from the same snapshot, for the ETag.
SELECT {feature},
       (SELECT coalesce(max(h.version), 0) FROM twin_history h
        WHERE h.layer = %(layer)s AND h.feature_id = t.id)
FROM {table} AS t
WHERE t.id = %(id)s
