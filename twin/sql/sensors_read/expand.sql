-- $expand of a collection relation: each parent's own page (its $filter, $orderby, $top and
-- $skip), one index-driven lateral query per parent instead of a window over every child.
SELECT p.parent, x.*
FROM unnest(%(parents)s::bigint[]) AS p (parent)
CROSS JOIN LATERAL (
    SELECT {columns}
    FROM {table} AS {t}
    WHERE {link} AND {condition}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s
) AS x
