-- One page of features as GeoJSON text built by PostgreSQL: the comma-joined features and how
-- many there are. The page's ids are chosen first, so deep offsets never build skipped rows.
WITH page AS (
    SELECT t.id
    FROM {table} AS t
    WHERE {where}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT coalesce(string_agg(p.feature, ','), ''), count(*)
FROM (
    SELECT {feature} AS feature
    FROM page JOIN {table} AS t ON t.id = page.id
    ORDER BY {order}
) AS p
