-- twin_layer_as_of() honours the layer's own date (issue #20), as `datetime` on the items,
-- downloads and tiles does (twin/features/pages.py own_time_clause): of what the history held
-- at the instant, only the features whose own date (`temporal:` in layers/*.yml: a park's
-- opened_on, a plot's registered_on) is on or before it; a feature without one is kept. A
-- date compares with the instant's UTC date, a date-time with the instant itself.
--
-- layers/*.yml stays the one source of each layer's own date: `twin migrate` writes the
-- versioned layers' `temporal:` into twin_own_time (twin.editing.history.install_history,
-- step history:own_time, again whenever a layer's `temporal:` changes); a layer without a
-- row answers from the history alone.
CREATE TABLE IF NOT EXISTS twin_own_time (
    layer  text PRIMARY KEY,
    field  text NOT NULL,
    kind   text NOT NULL CHECK (kind IN ('date', 'datetime'))
);

-- Unchanged from 0005 but for the own date: each feature changed after the instant as the
-- first such change found it (its `previous`; none when that change created it), plus the
-- rows not changed since.
CREATE OR REPLACE FUNCTION twin_layer_as_of(layer_name text, instant timestamptz)
RETURNS TABLE (id bigint, properties jsonb, geometry jsonb) LANGUAGE plpgsql STABLE AS $$
DECLARE
    own twin_own_time;
    own_day date := (instant AT TIME ZONE 'UTC')::date;
    row_time text := 'true';
BEGIN
    SELECT * INTO own FROM twin_own_time o WHERE o.layer = layer_name;
    RETURN QUERY
    SELECT v.feature_id, (v.previous - 'id' - 'geom'), v.previous -> 'geom'
    FROM (SELECT DISTINCT ON (h.feature_id) h.feature_id, h.previous
          FROM twin_history h
          WHERE h.layer = layer_name AND h.changed_at > instant
          ORDER BY h.feature_id, h.version) v
    WHERE v.previous IS NOT NULL
      AND (own.field IS NULL OR (v.previous ->> own.field) IS NULL
           OR CASE own.kind WHEN 'date' THEN (v.previous ->> own.field)::date <= own_day
                            ELSE (v.previous ->> own.field)::timestamptz <= instant END);
    IF own.field IS NOT NULL THEN
        row_time := format('(t.%1$I IS NULL OR t.%1$I <= %2$s)', own.field,
                           CASE own.kind WHEN 'date' THEN '$3' ELSE '$2' END);
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT t.id, (to_jsonb(t) - ''id'' - ''geom''), ST_AsGeoJSON(t.geom, 15)::jsonb
         FROM %I t
         WHERE t.id NOT IN (SELECT h.feature_id FROM twin_history h
                            WHERE h.layer = $1 AND h.changed_at > $2)
           AND %s', layer_name, row_time)
    USING layer_name, instant, own_day;
END $$;
