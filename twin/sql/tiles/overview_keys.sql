-- The properties one row of a layer's tile overview carries (all rows carry the same keys:
-- jsonb_build_object keeps nulls), or no row when the overview is empty.
SELECT ARRAY(SELECT jsonb_object_keys(o.properties))
FROM twin_tile_overview AS o
WHERE o.layer = %(name)s
LIMIT 1
