SELECT to_jsonb(t) - 'geom' - 'id' FROM {table} t ORDER BY {key}
