-- The exact number of features a query matches.
SELECT count(*) FROM {table} AS t WHERE {where}
