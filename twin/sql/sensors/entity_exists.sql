SELECT 1 FROM {table} WHERE id = %(id)s
