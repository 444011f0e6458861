SELECT count(*) FROM {staging} AS s
WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.{key} = s.{key})
