-- One page of features of a derived relation (a layer as of a past instant, which has no index
-- on id to join back to): features built in the ordered, limited scan itself.
SELECT coalesce(string_agg(p.feature, ','), ''), count(*), max(p.matched)
FROM (
    SELECT {feature} AS feature, {matched} AS matched
    FROM {table} AS t
    WHERE {where}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s
) AS p
