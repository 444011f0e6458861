-- How many features an unpaged download would give, counted up to one past the row limit
-- (the bound): enough to refuse it with a 413, never a scan of more than the limit.
SELECT count(*)
FROM (SELECT 1 FROM {table} AS t WHERE {where} OFFSET %(offset)s LIMIT %(bound)s) AS m
