-- A page of an entity set written whole as JSON (twin.sensors.read, nothing left for Python to
-- add): how many rows the page query found (one more than the page says a next page exists),
-- the page's entities' JSON joined by commas in the page's order, and the id of its last
-- entity (where an id-ordered next page starts: $skiptoken). The rows are chosen first and
-- only theirs JSON written, as in page.sql.
SELECT count(*),
       string_agg(p.entity, ',' ORDER BY p.n) FILTER (WHERE p.n <= %(top)s),
       max(p.id) FILTER (WHERE p.n = %(top)s)
FROM (
    SELECT row_number() OVER (ORDER BY {order}) AS n, {t}.id, ({json})::text AS entity
    FROM (
        SELECT {t}.*
        FROM {table} AS {t}
        WHERE {condition}
        ORDER BY {order}
        LIMIT %(limit)s OFFSET %(offset)s
    ) AS {t}
) AS p
