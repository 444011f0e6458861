-- History trigger functions of the versioned layers (re-applied by `twin migrate` whenever
-- this file changes). Statement-level triggers with transition tables: one INSERT .. SELECT per
-- statement, with each feature's next version found by one grouped index scan, so a bulk load
-- of n rows costs O(n log n), not a PL/pgSQL call or a history scan per row.
CREATE OR REPLACE FUNCTION twin_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    layer_name text := TG_TABLE_NAME::text;  -- text, so the (layer, feature_id) index applies
BEGIN
    IF current_setting('twin.history', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO twin_history (layer, feature_id, version, operation, actor, previous, current)
        SELECT layer_name, n.id, coalesce(last.version, 0) + 1,
               twin_history_operation('insert'), twin_history_actor(), NULL,
               twin_row_image(to_jsonb(n), n.geom)
        FROM new_rows n
        LEFT JOIN (SELECT h.feature_id, max(h.version) AS version FROM twin_history h
                   WHERE h.layer = layer_name AND h.feature_id IN (SELECT id FROM new_rows)
                   GROUP BY h.feature_id) last ON last.feature_id = n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO twin_history (layer, feature_id, version, operation, actor, previous, current)
        SELECT layer_name, n.id, coalesce(last.version, 0) + 1,
               twin_history_operation('update'), twin_history_actor(),
               twin_row_image(to_jsonb(o), o.geom), twin_row_image(to_jsonb(n), n.geom)
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        LEFT JOIN (SELECT h.feature_id, max(h.version) AS version FROM twin_history h
                   WHERE h.layer = layer_name AND h.feature_id IN (SELECT id FROM new_rows)
                   GROUP BY h.feature_id) last ON last.feature_id = n.id
        WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO twin_history (layer, feature_id, version, operation, actor, previous, current)
        SELECT layer_name, o.id, coalesce(last.version, 0) + 1,
               twin_history_operation('delete'), twin_history_actor(),
               twin_row_image(to_jsonb(o), o.geom), NULL
        FROM old_rows o
        LEFT JOIN (SELECT h.feature_id, max(h.version) AS version FROM twin_history h
                   WHERE h.layer = layer_name AND h.feature_id IN (SELECT id FROM old_rows)
                   GROUP BY h.feature_id) last ON last.feature_id = o.id;
    END IF;
    RETURN NULL;
END $$;

-- TRUNCATE (a replacing import) has no transition table: keep every row before it goes.
CREATE OR REPLACE FUNCTION twin_record_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('twin.history', true) = 'off' THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'INSERT INTO twin_history (layer, feature_id, version, operation, actor, previous, current)
         SELECT %L, o.id, coalesce(last.version, 0) + 1,
                twin_history_operation(''truncate''), twin_history_actor(),
                twin_row_image(to_jsonb(o), o.geom), NULL
         FROM %I o
         LEFT JOIN (SELECT h.feature_id, max(h.version) AS version FROM twin_history h
                    WHERE h.layer = %L GROUP BY h.feature_id) last ON last.feature_id = o.id',
        TG_TABLE_NAME, TG_TABLE_NAME, TG_TABLE_NAME);
    RETURN NULL;
END $$;
