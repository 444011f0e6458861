INSERT INTO {table} ({columns}{sep}geom)
VALUES ({values}{sep}{geometry})
RETURNING id
