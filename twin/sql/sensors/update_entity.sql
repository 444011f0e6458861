UPDATE {table} SET {assignments} WHERE id = %(id)s RETURNING id
