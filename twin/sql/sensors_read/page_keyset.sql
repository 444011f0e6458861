-- A page in id order written whole as JSON (twin.sensors.read; what page_json.sql does for any
-- order, without its window): the page's rows are cut by LIMIT $top alone and one index probe
-- past the page's last id says whether a next page exists, so no row_number() is kept over the
-- page's rows and no second sort made (the window and the sorted aggregate were two fifths of
-- the statement's time for the 10,000 lamps of a page). string_agg takes the rows in the
-- order the LIMIT subquery gives them: a subquery with a LIMIT is never merged into the query
-- around it, and nothing between the Limit and the Aggregate reorders rows
-- (tests/test_sensors_keyset.py reads the lamps back in id order).
-- Returns the same three values as page_json.sql: the rows found (the page's, plus one when
-- more follow), the entities' JSON joined in id order, and the page's last id ($skiptoken).
SELECT p.found + (p.last IS NOT NULL AND EXISTS (
           SELECT 1 FROM {table} AS {t} WHERE {condition} AND {t}.id > p.last
       ))::int,
       p.text,
       p.last
FROM (
    SELECT count(*) AS found, string_agg(e.entity, ',') AS text, max(e.id) AS last
    FROM (
        SELECT {t}.id, ({json})::text AS entity
        FROM (
            SELECT {t}.*
            FROM {table} AS {t}
            WHERE {condition}
            ORDER BY {order}
            LIMIT %(top)s OFFSET %(offset)s
        ) AS {t}
    ) AS e
) AS p
