SELECT t.{key} FROM {table} AS t
WHERE NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE s.{key} = t.{key})
