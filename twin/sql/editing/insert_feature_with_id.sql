INSERT INTO {table} (id, {columns}{sep}geom)
OVERRIDING SYSTEM VALUE
VALUES (%(id)s, {values}{sep}{geometry})
RETURNING id
