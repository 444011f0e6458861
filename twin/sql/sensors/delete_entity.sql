DELETE FROM {table} WHERE id = %(id)s RETURNING id
