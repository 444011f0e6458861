-- page_ids_bounded.sql with page.sql, for a derived relation (a layer as of a past instant, with no id index to
-- join back to): the bounded, counted matches carry their columns through the page's sort,
-- and only the page's rows become GeoJSON.
WITH page AS (
    SELECT t.*, count(*) OVER () AS matched
    FROM (SELECT * FROM {table} AS t WHERE {where} LIMIT %(bound)s) AS t
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT coalesce(string_agg(p.feature, ','), ''), count(*), max(p.matched)
FROM (
    SELECT {feature} AS feature, t.matched
    FROM page AS t
    ORDER BY {order}
) AS p
