DELETE FROM {table} WHERE {key} = ANY(%(keys)s)
