-- One page of features as GeoJSON text built by PostgreSQL: the comma-joined features, how
-- many there are, and (when {matched} is the window count) how many the query matches in all.
-- The page's ids are chosen first, so deep offsets never build skipped rows; the window count
-- rides on the same scan that picks them (a bbox or filter page reads every match anyway to
-- order them), so an exact numberMatched costs no second scan.
WITH page AS (
    SELECT t.id, {matched} AS matched
    FROM {table} AS t
    WHERE {where}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT coalesce(string_agg(p.feature, ','), ''), count(*), max(p.matched)
FROM (
    SELECT {feature} AS feature, page.matched
    FROM page JOIN {table} AS t ON t.id = page.id
    ORDER BY {order}
) AS p
