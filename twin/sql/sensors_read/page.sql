-- A page of an entity set (twin.sensors.read): the path's and $filter's conditions, the
-- $orderby keys then the set's tie-break; one row more than the page says a next page exists.
-- The page is chosen first and its entities' JSON written after, so $skip passes over rows
-- without writing them (the outer order follows the inner one: no second sort).
SELECT {columns}
FROM (
    SELECT {t}.*
    FROM {table} AS {t}
    WHERE {condition}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s
) AS {t}
ORDER BY {order}
