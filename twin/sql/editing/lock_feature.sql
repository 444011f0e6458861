SELECT to_jsonb(t) - 'geom' FROM {table} t WHERE t.id = %(id)s FOR UPDATE
