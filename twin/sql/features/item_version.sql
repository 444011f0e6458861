-- The version of one feature of a versioned layer (its last change in twin_history, 0 when
-- none), or no row when the feature does not exist now: the ETag of an item page.
SELECT (SELECT coalesce(max(h.version), 0) FROM twin_history h
        WHERE h.layer = %(layer)s AND h.feature_id = t.id)
FROM {table} AS t
WHERE t.id = %(id)s
