UPDATE twin_layers
SET source = %(p)s::jsonb ->> 'source', licence = %(p)s::jsonb ->> 'licence',
    loaded_at = (%(p)s::jsonb ->> 'loaded_at')::timestamptz,
    synthetic = coalesce((%(p)s::jsonb ->> 'synthetic')::boolean, false),
    details = coalesce(%(p)s::jsonb -> 'details', '{{}}'::jsonb)
WHERE name = %(layer)s
