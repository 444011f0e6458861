-- A versioned layer as it was during [asof_start, asof_end], for one tile (a dated tile from
-- the layer table: zoom 14 and deeper, points at every zoom): the rows not changed after the
-- window's start (the table's GiST filters them by the tile), and the features changed since,
-- as they were then (features/as_of_changed, bounded by the tile through the history's GiST).
-- The same features as features/as_of, split where a tile's bounds can lead both halves.
(
    SELECT {columns}, false AS from_history
    FROM {table} AS c
    WHERE c.id NOT IN (SELECT h.feature_id FROM twin_history AS h
                       WHERE h.layer = %(asof_layer)s
                         AND h.changed_at > %(asof_start)s::timestamptz)
    UNION ALL
    SELECT * FROM {changed} AS k
)
