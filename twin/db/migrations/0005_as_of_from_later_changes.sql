-- A versioned layer as it was at an instant, for SQL clients (the items route reads the same
-- relation, twin/sql/features/as_of.sql): each feature changed after the instant as the first
-- such change found it (its `previous`; none when that change created it), plus the rows not
-- changed since. Unlike the first version of this function, a row bulk-loaded without history
-- and edited later is there before its edit, in its loaded version.
CREATE OR REPLACE FUNCTION twin_layer_as_of(layer_name text, instant timestamptz)
RETURNS TABLE (id bigint, properties jsonb, geometry jsonb) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT v.feature_id, (v.previous - 'id' - 'geom'), v.previous -> 'geom'
    FROM (SELECT DISTINCT ON (h.feature_id) h.feature_id, h.previous
          FROM twin_history h
          WHERE h.layer = layer_name AND h.changed_at > instant
          ORDER BY h.feature_id, h.version) v
    WHERE v.previous IS NOT NULL;
    RETURN QUERY EXECUTE format(
        'SELECT t.id, (to_jsonb(t) - ''id'' - ''geom''), ST_AsGeoJSON(t.geom, 15)::jsonb
         FROM %I t
         WHERE t.id NOT IN (SELECT h.feature_id FROM twin_history h
                            WHERE h.layer = $1 AND h.changed_at > $2)', layer_name)
    USING layer_name, instant;
END $$;
