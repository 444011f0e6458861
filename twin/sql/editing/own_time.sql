-- Each versioned layer's own date (`temporal:` in layers/*.yml) as twin_layer_as_of() reads it
-- (migration 0028): the table becomes exactly the JSON array bound as layers (objects with
-- layer, field and kind).
WITH wanted AS (
    SELECT w.layer, w.field, w.kind
    FROM jsonb_to_recordset(%(layers)s::jsonb) AS w (layer text, field text, kind text)
), gone AS (
    DELETE FROM twin_own_time o WHERE o.layer NOT IN (SELECT layer FROM wanted)
)
INSERT INTO twin_own_time (layer, field, kind)
SELECT layer, field, kind FROM wanted
ON CONFLICT (layer) DO UPDATE SET field = EXCLUDED.field, kind = EXCLUDED.kind
