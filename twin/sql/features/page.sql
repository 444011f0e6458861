-- One page of features as GeoJSON text built by PostgreSQL: the comma-joined features, how
-- many there are, and how many the query matches in all when the page's ids were counted.
-- The ids are chosen first (features/page_ids.sql or features/page_ids_bounded.sql), so deep
-- offsets never build skipped rows; only the page's rows become GeoJSON.
WITH page AS (
{pick}
)
SELECT coalesce(string_agg(p.feature, ','), ''), count(*), max(p.matched)
FROM (
    SELECT {feature} AS feature, page.matched
    FROM page JOIN {table} AS t ON t.id = page.id
    ORDER BY {order}
) AS p
