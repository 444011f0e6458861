-- The rows of a download (CSV, GeoPackage, GeoParquet): the items query's relation, selection
-- and order (twin.features.pages builds them for every format), each row's columns as the
-- format writes them; every match when the request is not paged (a NULL limit is no limit).
-- `d.g` is the row's geometry in the output CRS, transformed once (OFFSET 0 keeps the planner
-- from inlining it into each column that reads it).
SELECT {columns}
FROM {table} AS t
CROSS JOIN LATERAL (SELECT {geometry} AS g OFFSET 0) AS d
WHERE {where}
ORDER BY {order}
LIMIT %(limit)s OFFSET %(offset)s
